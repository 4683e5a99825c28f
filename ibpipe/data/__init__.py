"""Datasets: inputs, labels and a seeded stratified train/test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from ibpipe.data.tishby12 import load_tishby12


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits (shipped with the package, no download) as (n, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images[:, None] / 16.0).astype(np.float32), digits.target.astype(np.int64)


LOADERS = {"tishby12": load_tishby12, "digits": load_digits_images}


@dataclass(frozen=True)
class Dataset:
    """All rows of a dataset plus which of them train, test and get measured."""

    name: str
    inputs: np.ndarray  # (n_rows, *input_shape) float32
    labels: np.ndarray  # (n_rows,) int64
    train_rows: np.ndarray  # indices into inputs
    test_rows: np.ndarray
    measured_rows: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.inputs.shape[1:])


def split_rows(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled, stratified split of row indices; both parts sorted for stable storage.

    The test part has floor(n_rows * test_fraction) rows, so the 12-bit data trains on
    3277 rows as in the original studies.
    """
    rows = np.arange(len(labels))
    n_test = int(np.floor(len(rows) * test_fraction))
    train, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


def load_dataset(name: str, test_fraction: float = 0.2, split_seed: int = 0, measure_on: str = "all") -> Dataset:
    """Load ``name``, split it, and choose the measured rows (``all``, ``train`` or ``test``)."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(LOADERS)}")
    inputs, labels = LOADERS[name]()
    train, test = split_rows(labels, test_fraction, split_seed)
    measured = {"all": np.arange(len(labels)), "train": train, "test": test}[measure_on]
    return Dataset(name, inputs, labels, train, test, measured)
