"""The IDX files of MNIST and Fashion-MNIST, read without torchvision.

An IDX file is a big-endian magic number (0x00000803 for a uint8 image array, 0x00000801
for a uint8 label vector: two zero bytes, the type code 0x08, the number of dimensions),
one uint32 per dimension, then the data. Files may be gzipped.
"""

from __future__ import annotations

from ibpipe.errors import InputError, MissingFileError
import gzip
from pathlib import Path

import numpy as np

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
UBYTE = 0x08


def read_idx(path: str | Path) -> np.ndarray:
    """The uint8 array stored in one IDX file (gzipped or raw, told apart by the gzip magic)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError) as error:
            raise InputError(f"{path}: the gzip stream is damaged or truncated ({error}); download the file again") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError(f"{path}: not an IDX file (it must start with two zero bytes, a type code and a dimension count)")
    if raw[2] != UBYTE:
        raise InputError(f"{path}: IDX type code 0x{raw[2]:02x} is not unsigned bytes (0x08), the type MNIST uses")
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise InputError(f"{path}: truncated header ({len(raw)} bytes for {n_dims} dimensions)")
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4))
    if not shape or 0 in shape:
        what = "images" if n_dims == 3 else "labels" if n_dims == 1 else "entries"
        raise InputError(
            f"{path}: holds 0 {what} (its header gives shape {shape}); an MNIST-layout file needs at least one: "
            "download it again or point dataset.root at a complete copy"
        )
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise InputError(f"{path}: holds {len(raw) - header} data bytes but its header {shape} promises {expected}; the file is truncated or damaged")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def missing_idx_files(directory: str | Path) -> list[str]:
    """Names of the four MNIST-layout files absent from ``directory``, in the order of IDX_FILES."""
    directory = Path(directory)
    return [name for name in IDX_FILES.values() if not (directory / f"{name}.gz").exists() and not (directory / name).exists()]


def find_idx_files(root: str | Path) -> dict[str, Path]:
    """Paths of the four MNIST-layout files in ``root`` (``.gz`` preferred over raw); a clear error lists what is missing."""
    root = Path(root)
    missing = missing_idx_files(root)
    if missing:
        raise MissingFileError(
            f"IDX files missing in {root.resolve()}: {', '.join(f'{name}[.gz]' for name in missing)}. Put the four MNIST-layout files "
            f"({', '.join(f'{n}.gz' for n in IDX_FILES.values())}) there, gzipped or not, or point dataset.root at them."
        )
    return {key: next(path for path in (root / f"{name}.gz", root / name) if path.exists()) for key, name in IDX_FILES.items()}


def check_pairs(arrays: dict[str, np.ndarray], source: object) -> None:
    """Fail early when images are not (n, h, w) or do not match their label vector in length."""
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise InputError(f"{source}: {split} images {images.shape} and labels {labels.shape} do not pair up")


def read_idx_arrays(root: str | Path) -> dict[str, np.ndarray]:
    """The four uint8 arrays of ``root``, keyed like IDX_FILES, checked to pair up."""
    arrays = {key: read_idx(path) for key, path in find_idx_files(root).items()}
    check_pairs(arrays, root)
    return arrays


def to_unit_images(images: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w) images as float32 (n, 1, h, w) in [0, 1], scaled in place to spare a full-size copy."""
    scaled = images[:, None].astype(np.float32)
    scaled *= np.float32(1 / 255)
    return scaled


def load_idx_dataset(root: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train images (n, 1, h, w) scaled to [0, 1], train labels, test images, test labels."""
    arrays = read_idx_arrays(root)
    return (
        to_unit_images(arrays["train_images"]),
        arrays["train_labels"].astype(np.int64),
        to_unit_images(arrays["test_images"]),
        arrays["test_labels"].astype(np.int64),
    )
