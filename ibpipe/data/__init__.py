"""Datasets: inputs, labels and a train/test split (seeded and stratified, or official for MNIST-like data)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibpipe.data.images import TORCHVISION_CLASSES, default_root, load_official_split
from ibpipe.data.tishby12 import load_tishby12


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits (shipped with the package, no download) as (n, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images[:, None] / 16.0).astype(np.float32), digits.target.astype(np.int64)


def load_standardised_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's iris (150 x 4, 3 classes) or wine (178 x 13, 3 classes), each feature z-scored over all rows."""
    from sklearn import datasets

    table = {"iris": datasets.load_iris, "wine": datasets.load_wine}[name]()
    features = table.data.astype(np.float64)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    return features.astype(np.float32), table.target.astype(np.int64)


LOADERS = {
    "tishby12": load_tishby12,
    "digits": load_digits_images,
    "iris": lambda: load_standardised_table("iris"),
    "wine": lambda: load_standardised_table("wine"),
}
DATASETS = ("tishby12", "digits", "mnist", "fashion_mnist", "iris", "wine")
MEASURE_ON = ("all", "train", "test")


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
    # Imported here: scikit-learn takes ~1.5 s to import, and every stage imports this package.
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


def load_dataset(
    name: str,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    measure_on: str = "all",
    root: str | Path | None = None,
    download: bool = False,
) -> Dataset:
    """Load ``name``, split it, and choose the measured rows (``all``, ``train`` or ``test``).

    mnist and fashion_mnist keep their official split (train rows first, then test rows) so
    results compare with the literature; ``test_fraction`` and ``split_seed`` are ignored for
    them. Their IDX files are read from ``root`` (default ``data/<name>``); ``download`` lets
    torchvision fetch missing files there.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if measure_on not in MEASURE_ON:
        raise ValueError(f"measure_on must be one of {', '.join(MEASURE_ON)}, not {measure_on!r}")
    if name in TORCHVISION_CLASSES:
        inputs, labels, train, test = load_official_split(name, default_root(name) if root is None else root, download)
    else:
        inputs, labels = LOADERS[name]()
        train, test = split_rows(labels, test_fraction, split_seed)
    measured = {"all": np.arange(len(labels)), "train": train, "test": test}[measure_on]
    return Dataset(name, inputs, labels, train, test, measured)
