"""Datasets: inputs, labels and a train/test split (seeded and stratified, or official for MNIST-like data).

``DATASETS`` is the one registry of dataset names: params validation, the stages and the docs read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ibpipe.data.arrays import OWN_DATA_ROOT, factory_rows, read_arrays
from ibpipe.data.images import default_root, load_official_split
from ibpipe.data.tables import load_digits_images, load_standardised_table
from ibpipe.data.tishby12 import load_tishby12


@dataclass(frozen=True)
class DatasetInfo:
    """How a dataset loads: ``rows`` gives (inputs, labels) to split; ``official`` datasets bring their split.

    ``own`` datasets are the user's: ``rows`` takes the root folder and the factory import path and
    adds the layout of inputs made of several tensors (None for one).
    """

    doc: str
    rows: Callable[..., tuple] | None = None
    official: bool = False
    own: bool = False


DATASETS: dict[str, DatasetInfo] = {
    "tishby12": DatasetInfo("all 4096 12-bit patterns, labelled by Shwartz-Ziv & Tishby's rule", load_tishby12),
    "digits": DatasetInfo("scikit-learn's 1797 8x8 digits as (1, 8, 8) images", load_digits_images),
    "mnist": DatasetInfo("MNIST, 60000 + 10000 28x28 images from IDX files", official=True),
    "fashion_mnist": DatasetInfo("Fashion-MNIST, 60000 + 10000 28x28 images from IDX files", official=True),
    "iris": DatasetInfo("scikit-learn's iris, 150 x 4, z-scored", lambda: load_standardised_table("iris")),
    "wine": DatasetInfo("scikit-learn's wine, 178 x 13, z-scored", lambda: load_standardised_table("wine")),
    "arrays": DatasetInfo(
        "your own inputs.npy + labels.npy (or one data.npz holding both) in dataset.root",
        lambda root, factory: (*read_arrays(root), None),
        own=True,
    ),
    "custom": DatasetInfo(
        "what dataset.factory returns: a torch Dataset of (input, label) items, or (inputs, labels) arrays",
        lambda root, factory: factory_rows(factory, root),
        own=True,
    ),
}
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
    # measure_on given as a list: per split, positions within measured_rows of its rows
    measured_splits: dict[str, np.ndarray] | None = None
    # inputs of several tensors packed side by side (ibpipe.data.arrays.pack_inputs); None for one tensor
    input_layout: dict | None = None

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
    # Imported here: scikit-learn takes ~1.5 s to import, and not every caller splits.
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


def load_dataset(
    name: str,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    measure_on: str | list[str] = "all",
    root: str | Path | None = "auto",
    download: bool = False,
    factory: str = "",
) -> Dataset:
    """Load ``name``, split it, and choose the measured rows (``all``, ``train`` or ``test``).

    A list such as ``["train", "test"]`` measures the union of those rows and gives, per split, its
    positions within them (``measured_splits``): the estimate stage measures each split on its own.

    The keywords are those of the ``dataset`` params section, so ``load_dataset(**section.to_dict())``
    loads what params.yaml names. mnist and fashion_mnist keep their official split (train rows
    first, then test rows) so results compare with the literature; ``test_fraction`` and
    ``split_seed`` are ignored for them. Their IDX files are read from ``root`` (``auto`` or None:
    ``data/<name>``); ``download`` lets torchvision fetch missing files there. ``arrays`` reads
    ``inputs.npy``/``labels.npy`` or ``data.npz`` from ``root`` (``auto``: data/own), ``custom`` calls
    ``factory`` ('package.module:function', importable from ``root``); their classes are counted from
    the labels, which must be 0..K-1.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    splits = list(measure_on) if isinstance(measure_on, list | tuple) else [measure_on]
    if not splits or any(split not in MEASURE_ON for split in splits):
        raise ValueError(f"measure_on must be one of {', '.join(MEASURE_ON)} or a list of them, not {measure_on!r}")
    info = DATASETS[name]
    layout = None
    if info.official:
        directory = default_root(name) if root in (None, "auto") else root
        inputs, labels, train, test = load_official_split(name, directory, download)
    elif info.own:
        inputs, labels, layout = info.rows(OWN_DATA_ROOT if root in (None, "auto") else Path(root), factory)
        train, test = split_rows(labels, test_fraction, split_seed)
    else:
        inputs, labels = info.rows()
        train, test = split_rows(labels, test_fraction, split_seed)
    rows = {"all": np.arange(len(labels)), "train": train, "test": test}
    if not isinstance(measure_on, list | tuple):
        return Dataset(name, inputs, labels, train, test, rows[measure_on], input_layout=layout)
    measured = np.unique(np.concatenate([rows[split] for split in splits]))
    positions = {split: np.searchsorted(measured, rows[split]) for split in splits}
    return Dataset(name, inputs, labels, train, test, measured, positions, layout)
