"""MNIST and Fashion-MNIST with their official train/test split.

Our own IDX reader comes first so that no torchvision is needed: its PyPI wheels must match
the torch build exactly and often fail at import. torchvision is only the fallback that can
download the files.
"""

from __future__ import annotations

from ibpipe.errors import MissingFileError
import importlib
from pathlib import Path

import numpy as np

from ibpipe.data.idx import IDX_FILES, check_pairs, missing_idx_files, read_idx_arrays, to_unit_images

TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}


def default_root(name: str) -> Path:
    """Where a dataset's files live when params.yaml gives no root: ``data/<name>`` under the working directory."""
    return Path("data") / name


def candidate_directories(name: str, root: Path) -> list[Path]:
    """``root`` itself, then torchvision's layout ``root/<Class>/raw``, so a torchvision download is reused."""
    return [root, root / TORCHVISION_CLASSES[name] / "raw"]


def import_torchvision_datasets() -> tuple[object | None, str]:
    """``torchvision.datasets``, or None and why not; a wheel built for another torch raises RuntimeError, not ImportError."""
    try:
        return importlib.import_module("torchvision.datasets"), ""
    except ImportError:
        return None, "torchvision is not installed"
    except Exception as error:
        return None, f"torchvision is installed but fails at import ({type(error).__name__}: {error})"


def missing_files_message(name: str, root: Path) -> str:
    """Which files are missing and where to put them, for the candidate directory closest to complete."""
    candidates = candidate_directories(name, root)
    directory = min(candidates, key=lambda candidate: len(missing_idx_files(candidate)))
    missing = missing_idx_files(directory)
    return (
        f"{name}: IDX files missing in {directory.resolve()}: {', '.join(f'{file}[.gz]' for file in missing)}. "
        f"Put the four files ({', '.join(f'{file}.gz' for file in IDX_FILES.values())}), gzipped or not, "
        f"in {root.resolve()} (or torchvision's layout {candidates[1].resolve()}), or point dataset.root at a directory holding them."
    )


def read_with_torchvision(datasets: object, name: str, root: Path, download: bool) -> dict[str, np.ndarray]:
    """The four uint8 arrays from torchvision's dataset class, which downloads into ``root/<Class>/raw`` when asked."""
    dataset_class = getattr(datasets, TORCHVISION_CLASSES[name])
    arrays = {}
    for split, train in (("train", True), ("test", False)):
        dataset = dataset_class(str(root), train=train, download=download)
        arrays[f"{split}_images"] = np.asarray(dataset.data, dtype=np.uint8)
        arrays[f"{split}_labels"] = np.asarray(dataset.targets)
    check_pairs(arrays, f"torchvision {TORCHVISION_CLASSES[name]} in {root}")
    return arrays


def find_arrays(name: str, root: Path, download: bool) -> dict[str, np.ndarray]:
    """IDX files in ``root`` or its torchvision layout, else torchvision, else an error saying what to fetch and where."""
    for directory in candidate_directories(name, root):
        if not missing_idx_files(directory):
            return read_idx_arrays(directory)
    datasets, why_not = import_torchvision_datasets()
    if datasets is None:
        raise MissingFileError(
            f"{missing_files_message(name, root)} Alternatively, on a machine with internet, `pip install torchvision` "
            f"and set dataset.download: true to fetch them ({why_not})."
        )
    try:
        return read_with_torchvision(datasets, name, root, download)
    except Exception as error:
        if download:
            raise RuntimeError(
                f"{name}: torchvision could not download the files into {root.resolve()} ({type(error).__name__}: {error}). "
                f"If this machine has no internet, copy them from one that has. {missing_files_message(name, root)}"
            ) from error
        raise MissingFileError(
            f"{missing_files_message(name, root)} Alternatively set dataset.download: true so that torchvision fetches them "
            f"(torchvision said: {type(error).__name__}: {error})."
        ) from error


def load_official_split(name: str, root: str | Path, download: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (n, 1, 28, 28) float32 in [0, 1] and int64 labels (official train rows, then test rows), plus the row indices of each part."""
    if name not in TORCHVISION_CLASSES:
        raise ValueError(f"{name!r} has no official split; known: {', '.join(TORCHVISION_CLASSES)}")
    arrays = find_arrays(name, Path(root), download)
    n_train, n_test = len(arrays["train_labels"]), len(arrays["test_labels"])
    inputs = to_unit_images(np.concatenate([arrays["train_images"], arrays["test_images"]]))
    labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]]).astype(np.int64)
    return inputs, labels, np.arange(n_train), np.arange(n_train, n_train + n_test)
