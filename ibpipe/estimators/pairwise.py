"""Pairwise-distance kernels in bounded memory, through torch so a GPU is used when present.

Every O(N^2) method (KDE bounds, k-NN, TwoNN, correlation dimension, leave-one-out KDE)
gets its squared distances here, one block of query rows at a time:

    D_ij = |a_i|^2 + |b_j|^2 - 2 a_i . b_j   (clipped at 0)

The block holds ``block_rows(...)`` rows, chosen so the block's working arrays fit in the
memory budget (bytes): memory is O(block x N), never N x N. Arrays go in and come out as
numpy; torch only does the arithmetic. float64 (the default) equals the numpy formula to
~1e-12 relative; float32 (opt-in, ``dtype="float32"``) is ~1e-6 relative to the largest
squared norm, so D_ij below ~1e-6 |a|^2 is noise.

``settings`` is a context (a ContextVar, so it follows each Dask task and thread): the
estimate stage sets ``memory_limit`` and ``device`` around a task, the estimators read them
without new arguments. ``device``: "auto" (CUDA when available, else CPU), "cpu", "cuda".
The CUDA path is tested on CPU only so far.

``principal_axis``: the leading right singular vector of the rows by power iteration,
O(N d) per iteration instead of the O(d^3) eigendecomposition of the d x d Gram matrix.

References: G. H. Golub & C. F. Van Loan, Matrix Computations, 4th ed. (2013), sections 7.3
(power iteration) and 8.1.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ibpipe.estimators.compiled import cached_njit

DEVICES = ("auto", "cpu", "cuda")
DEFAULT_MEMORY_LIMIT = 256 * 2**20  # bytes of pairwise working memory per task
# Above this many dimensions a k-d tree visits nearly every leaf: blocked brute force is faster.
KD_TREE_MAX_DIMS = 32


@dataclass(frozen=True)
class PairwiseSettings:
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    device: str = "auto"
    dtype: str = "float64"


_SETTINGS: contextvars.ContextVar[PairwiseSettings | None] = contextvars.ContextVar("pairwise_settings", default=None)


def current() -> PairwiseSettings:
    return _SETTINGS.get() or PairwiseSettings()


@contextlib.contextmanager
def settings(memory_limit: int | None = None, device: str | None = None, dtype: str | None = None):
    """Use these pairwise settings inside the ``with`` block (None keeps the current value)."""
    now = current()
    new = PairwiseSettings(
        int(memory_limit) if memory_limit is not None else now.memory_limit,
        device if device is not None else now.device,
        dtype if dtype is not None else now.dtype,
    )
    if new.device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {new.device!r}")
    if new.dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be float64 or float32, got {new.dtype!r}")
    token = _SETTINGS.set(new)
    try:
        yield new
    finally:
        _SETTINGS.reset(token)


def _no_cuda_driver() -> bool:
    """True when no NVIDIA driver is loaded (Linux), so "auto" means the CPU without importing torch:
    importing it costs seconds and hundreds of MB in every Dask worker."""
    return sys.platform.startswith("linux") and not os.path.exists("/proc/driver/nvidia")


def _on_cpu(device: str | None) -> bool:
    device = device or current().device
    return device == "cpu" or (device == "auto" and _no_cuda_driver())


def torch_device(device: str | None = None):
    import torch

    device = device or current().device
    if device == "auto":
        return torch.device("cuda" if not _no_cuda_driver() and torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("estimate.device = cuda but torch sees no CUDA device; use auto or cpu")
    return torch.device(device)


def block_rows(n_columns: int, memory_limit: int | None = None, arrays: int = 3, itemsize: int = 8) -> int:
    """Rows per block so that ``arrays`` (block x n_columns) arrays of ``itemsize`` bytes fit in the budget (>= 1)."""
    budget = current().memory_limit if memory_limit is None else memory_limit
    return max(1, int(budget // max(1, arrays * itemsize * n_columns)))


def _torch_dtype(dtype: str | None):
    import torch

    return torch.float32 if (dtype or current().dtype) == "float32" else torch.float64


def cross_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b.T (float64 numpy out); on a CUDA device through torch, else numpy's BLAS."""
    if _on_cpu(None) and current().dtype == "float64":
        return a @ b.T
    import torch

    device = torch_device()
    dtype = _torch_dtype(None)
    left = torch.as_tensor(a, device=device, dtype=dtype)
    right = torch.as_tensor(b, device=device, dtype=dtype)
    return (left @ right.T).to(torch.float64).cpu().numpy()


def _uses_torch(device: str | None, dtype: str | None) -> bool:
    """On the CPU in float64 numpy's BLAS does the same arithmetic and tracemalloc sees its blocks."""
    return not _on_cpu(device) or (dtype or current().dtype) != "float64"


def squared_distance_blocks(
    queries: np.ndarray,
    reference: np.ndarray,
    *,
    rows: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    use_torch: bool | None = None,
) -> Iterator[tuple[slice, np.ndarray]]:
    """(rows, D) with D = squared distances (block x len(reference)) of ``queries[rows]`` to every reference row.

    ``rows`` per block defaults to what the memory budget allows (three block x N float64
    arrays: the product, the result and a temporary). ``use_torch`` None: torch on a GPU or
    in float32, numpy otherwise; True forces torch (tests compare the two on the CPU).
    """
    rows = rows or block_rows(len(reference))
    if not (_uses_torch(device, dtype) if use_torch is None else use_torch):
        reference_norms = np.einsum("ij,ij->i", reference, reference)
        for start in range(0, len(queries), rows):
            part = slice(start, min(start + rows, len(queries)))
            block = queries[part]
            squared = block @ reference.T
            squared *= -2.0
            squared += reference_norms[None, :]
            squared += np.einsum("ij,ij->i", block, block)[:, None]
            yield part, np.maximum(squared, 0.0, out=squared)
        return
    import torch

    torch_dev, torch_type = torch_device(device), _torch_dtype(dtype)
    reference_t = torch.as_tensor(np.asarray(reference), device=torch_dev).to(torch_type)
    reference_norms_t = (reference_t * reference_t).sum(dim=1)
    for start in range(0, len(queries), rows):
        part = slice(start, min(start + rows, len(queries)))
        block_t = torch.as_tensor(np.asarray(queries[part]), device=torch_dev).to(torch_type)
        squared_t = block_t @ reference_t.T
        squared_t.mul_(-2.0).add_(reference_norms_t[None, :]).add_((block_t * block_t).sum(dim=1)[:, None])
        squared_t.clamp_(min=0.0)
        yield part, squared_t.to(torch.float64).cpu().numpy()


def nearest_distances(points: np.ndarray, k: int, *, rows: int | None = None) -> np.ndarray:
    """Euclidean distances (n, k) of each row to its k nearest other rows, ascending (self excluded by index)."""
    points = np.asarray(points, dtype=np.float64)
    if not 1 <= k < len(points):
        raise ValueError(f"k must be in 1..{len(points) - 1}, got {k}")
    result = np.empty((len(points), k))
    for part, squared in squared_distance_blocks(points, points, rows=rows):
        own = np.arange(part.stop - part.start)
        squared[own, own + part.start] = np.inf
        result[part] = np.sqrt(np.sort(np.partition(squared, k - 1, axis=1)[:, :k], axis=1))
    return result


def paired_distances(points: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """|points[first[p]] - points[second[p]]| for each pair p, in chunks that fit the memory budget.

    Gathering all pairs at once would need 2 x n_pairs x d floats (100000 pairs of 3136 units:
    5 GB); a chunk holds ``block_rows(d)`` pairs.
    """
    points = np.asarray(points, dtype=np.float64)
    if _paired_kernel is not None and points.shape[1] <= KD_TREE_MAX_DIMS:  # narrow rows: no gathered copies
        return _paired_kernel(np.ascontiguousarray(points), np.asarray(first), np.asarray(second))
    distances = np.empty(len(first))
    chunk = block_rows(points.shape[1])
    for start in range(0, len(first), chunk):
        stop = min(start + chunk, len(first))
        difference = points[first[start:stop]]
        difference -= points[second[start:stop]]
        distances[start:stop] = np.sqrt(np.einsum("ij,ij->i", difference, difference))
    return distances


try:  # numba is a dependency; without it the numpy chunks answer the same to rounding
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None


_paired_kernel = None
if _numba is not None:

    @cached_njit(nogil=True)
    def _paired_kernel(points, first, second):  # pragma: no cover - compiled
        distances = np.empty(len(first))
        for pair in range(len(first)):
            squared = 0.0
            for unit in range(points.shape[1]):
                difference = points[first[pair], unit] - points[second[pair], unit]
                squared += difference * difference
            distances[pair] = np.sqrt(squared)
        return distances


def principal_axis(
    points: np.ndarray, iterations: int = 50, tolerance: float = 1e-10, seed: int = 0, max_rows: int = 2000
) -> np.ndarray:
    """Unit vector along the leading right singular vector of ``points`` (n, d), by power iteration.

    Each step is two passes over the rows (v <- X^T (X v)), O(N d); it stops when the
    direction moves less than ``tolerance``. Any unit vector is a valid sort key for the KDE
    (only speed depends on it), so an unconverged axis costs time, never accuracy; for the same
    reason the iteration runs on at most ``max_rows`` seeded rows.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) > max_rows:
        points = points[np.sort(np.random.default_rng(seed).choice(len(points), max_rows, replace=False))]
    vector = np.random.default_rng(seed).normal(size=points.shape[1])
    vector /= np.linalg.norm(vector)
    for _ in range(iterations):
        nxt = points.T @ (points @ vector)
        norm = np.linalg.norm(nxt)
        if norm == 0:
            return vector
        nxt /= norm
        moved = np.linalg.norm(nxt - vector)
        vector = nxt
        if moved < tolerance:
            break
    return vector


def subsample_rows(n_rows: int, max_rows: int, seed: int) -> np.ndarray | None:
    """Sorted indices of a seeded subsample of ``max_rows`` of ``n_rows`` rows, or None when no cap applies.

    Depends only on (n_rows, max_rows, seed): every epoch, layer and estimator of a run gets
    the same rows. ``max_rows = 0`` turns the cap off.
    """
    if max_rows <= 0 or n_rows <= max_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, max_rows, replace=False))
