"""Exact k-nearest-neighbour queries with one answer whatever library finds the candidates.

``kneighbors(points, k)`` returns, for every row, its k nearest other rows (self excluded by
index) and their distances, ordered by (distance, index): among rows at equal distance the lower
index comes first. Every backend answers identically, because each only proposes candidates:

1. a backend finds the ``k + extra`` nearest candidates of every row by its own arithmetic
   (``kdtree``: scipy's cKDTree; ``faiss``: an exact flat index, float32; ``torch``: blocked
   |a|^2 + |b|^2 - 2 a.b on the device; ``blocked``: the same in numpy float64, the reference);
2. the candidates' distances are recomputed exactly in float64 from the differences
   (sqrt(sum (a - b)^2) or max |a - b|) and sorted by (distance, index);
3. a row is certified when its k-th exact distance is below the smallest distance any
   non-candidate can have (the backend's (k + extra)-th distance minus its rounding bound);
   rows that are not (ties at the boundary, lattice data, float32 noise) are answered by an exact
   scan of the whole row.

So the neighbours, their order and their distances are bitwise the same for every backend.
``backend="auto"`` follows ``estimate.device`` (``ibpipe.estimators.pairwise.settings``): torch on
a CUDA device; on the CPU a k-d tree in few dimensions, else FAISS when ``faiss-cpu`` is installed
(``pip install ibpipe[faiss]``), else the numpy blocks. Memory stays within the pairwise budget
(``estimate.memory_limit``): blocks of rows, never an N x N matrix.

``count_within(points, radius)``: how many rows lie within max-norm ``radius[i]`` of row i (KSG's
marginal counts): two binary searches per row in 1-D, a k-d tree's counting query in few dimensions, the
compiled sweep above. The compiled kernels (the exact check, the max-norm sweeps, KSG's fused sweep) live
in ``ibpipe.estimators.sweeps``.

References: J. Johnson, M. Douze & H. Jegou, "Billion-scale similarity search with GPUs", IEEE
Trans. Big Data 7(3) (2021) (FAISS); J. L. Bentley, Commun. ACM 18(9) (1975) (k-d trees).
"""

from __future__ import annotations

import numpy as np

from ibpipe.estimators.compiled import numba
from ibpipe.estimators.pairwise import KD_TREE_MAX_DIMS, block_rows, current, squared_distance_blocks
from ibpipe.estimators.sweeps import chebyshev_sweep, count_within_sweep, exact_distances

BACKENDS = ("auto", "blocked", "kdtree", "faiss", "torch", "numba")
METRICS = ("euclidean", "chebyshev")
# The k-d tree answers "auto" up to this many dimensions; above it FAISS or the blocks are faster.
KD_TREE_AUTO_DIMS = 16
# Candidates beyond k each backend proposes, so that ties and rounding near the k-th rarely need a rescan.
EXTRA_CANDIDATES = 4
# Rows per block where the points are centred (so no copy of all of them is made).
_ROW_BLOCK = 4096
# Relative rounding bound on a backend's squared distances (float64 products; float32 for FAISS).
_ROUNDING = {"blocked": 1e-10, "torch": 1e-10, "kdtree": 1e-12, "faiss": 1e-5, "numba": 0.0}
# Max-norm distances are exact differences in the k-d tree and the numpy blocks (no products to round).
_ROUNDING_CHEBYSHEV = {"blocked": 0.0, "torch": 1e-12, "kdtree": 0.0, "faiss": 1e-5, "numba": 0.0}


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def choose_backend(n_dims: int, metric: str = "euclidean", device: str | None = None) -> str:
    """The backend ``auto`` means for rows of ``n_dims`` under the current ``estimate.device``."""
    from ibpipe.estimators.pairwise import _on_cpu

    if not _on_cpu(device or current().device):
        return "torch"
    if n_dims <= KD_TREE_AUTO_DIMS:
        return "kdtree"
    if metric == "chebyshev":
        return "numba" if numba is not None else "blocked"
    return "faiss" if faiss_available() else "blocked"


def _as_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return points[:, None] if points.ndim == 1 else points


def _exact(points: np.ndarray, rows: np.ndarray, columns: np.ndarray, metric: str) -> np.ndarray:
    """Exact float64 distances from ``points[rows]`` (n,) to ``points[columns]`` (n, m), from the differences:
    the compiled kernel, or numpy without numba (one or the other for every distance of a process)."""
    if numba is not None:
        return exact_distances(points, rows, columns, metric == "chebyshev")
    difference = points[columns] - points[rows][:, None, :]
    if metric == "chebyshev":
        return np.abs(difference).max(axis=2)
    return np.sqrt(np.einsum("ijk,ijk->ij", difference, difference))


def _first_k(distances: np.ndarray, indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k smallest by (distance, index)."""
    order = np.lexsort((indices, distances), axis=1)
    return np.take_along_axis(distances, order, 1)[:, :k], np.take_along_axis(indices, order, 1)[:, :k]


def _scan_rows(points: np.ndarray, rows: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The exact answer for some rows: every distance of the row from the differences, in blocks of rows,
    ordered by a stable sort (so by (distance, index))."""
    distances = np.empty((len(rows), k))
    indices = np.empty((len(rows), k), dtype=np.int64)
    everyone = np.arange(len(points))
    chunk = block_rows(len(points), arrays=3 if numba is not None else points.shape[1] + 2)
    for start in range(0, len(rows), chunk):
        some = rows[start : start + chunk]
        exact = _exact(points, some, np.broadcast_to(everyone, (len(some), len(points))), metric)
        exact[np.arange(len(some)), some] = np.inf
        order = np.argsort(exact, axis=1, kind="stable")[:, :k]
        distances[start : start + len(some)] = np.take_along_axis(exact, order, 1)
        indices[start : start + len(some)] = order
    return distances, indices


def _candidates_blocked(points: np.ndarray, m: int, metric: str, use_torch: bool) -> tuple[np.ndarray, np.ndarray]:
    """The m nearest candidates per row (squared euclidean or max-norm distances, unordered), by blocks."""
    n = len(points)
    distances = np.empty((n, m))
    indices = np.empty((n, m), dtype=np.int64)
    if metric == "euclidean":
        blocks = squared_distance_blocks(points, points, use_torch=use_torch)
    else:
        blocks = _chebyshev_blocks(points, use_torch)
    for part, block in blocks:
        own = np.arange(part.stop - part.start)
        block[own, own + part.start] = np.inf
        nearest = np.argpartition(block, m - 1, axis=1)[:, :m]
        indices[part] = nearest
        distances[part] = np.take_along_axis(block, nearest, 1)
    return distances, indices


def _chebyshev_blocks(points: np.ndarray, use_torch: bool):
    rows = block_rows(len(points), arrays=max(3, points.shape[1]))
    if use_torch:
        import torch

        from ibpipe.estimators.pairwise import torch_device

        reference = torch.as_tensor(points, device=torch_device(), dtype=torch.float64)
        for start in range(0, len(points), rows):
            part = slice(start, min(start + rows, len(points)))
            yield part, torch.cdist(reference[part], reference, p=float("inf")).cpu().numpy()
        return
    for start in range(0, len(points), rows):
        part = slice(start, min(start + rows, len(points)))
        block = np.zeros((part.stop - part.start, len(points)))
        for column in range(points.shape[1]):
            np.maximum(block, np.abs(points[part, column][:, None] - points[None, :, column]), out=block)
        yield part, block


def _candidates_kdtree(points: np.ndarray, m: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    from scipy.spatial import cKDTree

    distances, indices = cKDTree(points).query(points, k=m + 1, p=np.inf if metric == "chebyshev" else 2, workers=-1)
    # Drop each row itself (not necessarily first when rows repeat); a row absent from its own answer
    # (more than m + 1 duplicates) loses its farthest candidate instead.
    own = indices == np.arange(len(points))[:, None]
    own[~own.any(axis=1), -1] = True
    keep = ~own
    distances = distances[keep].reshape(len(points), m)
    indices = indices[keep].reshape(len(points), m)
    return (distances**2 if metric == "euclidean" else distances), indices


def _candidates_faiss(points: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    data = np.empty(points.shape, dtype=np.float32)  # centred, block by block: no float64 copy of the points
    mean = points.mean(axis=0)
    for start in range(0, len(points), _ROW_BLOCK):
        data[start : start + _ROW_BLOCK] = points[start : start + _ROW_BLOCK] - mean
    index = faiss.IndexFlatL2(data.shape[1])
    index.add(data)
    distances = np.empty((len(data), m))
    indices = np.empty((len(data), m), dtype=np.int64)
    rows = block_rows(len(data), arrays=1, itemsize=4)
    for start in range(0, len(data), rows):
        stop = min(start + rows, len(data))
        found_d, found_i = index.search(data[start:stop], m + 1)
        own = found_i == np.arange(start, stop)[:, None]
        own[~own.any(axis=1), -1] = True
        distances[start:stop] = found_d[~own].reshape(stop - start, m)
        indices[start:stop] = found_i[~own].reshape(stop - start, m)
    return distances, indices


def kneighbors(
    points: np.ndarray, k: int, *, metric: str = "euclidean", backend: str = "auto", distances_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (n, k) and indices (n, k) of every row's k nearest other rows, by (distance, index).

    ``metric``: ``euclidean`` or ``chebyshev`` (max-norm). ``backend``: one of ``BACKENDS``; every one
    gives the same answer (see the module doc), ``auto`` the fastest for ``estimate.device``.
    ``distances_only``: the caller reads the distances alone, which ties cannot change: a tie between the
    k-th candidate and a row beyond the candidates then needs no exact rescan (repeated rows, lattices).
    """
    points = _as_points(points)
    n, n_dims = points.shape
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if not 1 <= k < n:
        raise ValueError(f"k must be in 1..{n - 1} for {n} rows, got {k}")
    backend = choose_backend(n_dims, metric) if backend == "auto" else backend
    if backend == "faiss" and metric != "euclidean":
        backend = "numba" if numba is not None else "blocked"  # FAISS's max-norm flat index is a slow scalar loop
    if backend == "numba" and (metric != "chebyshev" or numba is None):
        backend = "blocked"  # the compiled scan does the max-norm only
    m = min(k + EXTRA_CANDIDATES, n - 1)
    if backend == "kdtree":
        approximate, candidates = _candidates_kdtree(points, m, metric)
    elif backend == "faiss":
        approximate, candidates = _candidates_faiss(points, m)
    elif backend == "numba":
        approximate, candidates = chebyshev_sweep(points, m)
    else:
        approximate, candidates = _candidates_blocked(points, m, metric, use_torch=backend == "torch")
    exact = _exact(points, np.arange(n), candidates, metric)
    distances, indices = _first_k(exact, candidates, k)
    if m == n - 1:
        return distances, indices  # every other row is a candidate: nothing lies beyond them
    # The smallest distance a non-candidate may have: the largest candidate's, less the rounding bound.
    size = _centred_sizes(points, metric)  # squared euclidean norms or max-norms of the centred rows
    if metric == "euclidean":
        floor = np.sqrt(np.maximum(approximate.max(axis=1) - _ROUNDING[backend] * (size + size.max()), 0.0))
    else:
        floor = np.maximum(approximate.max(axis=1) - _ROUNDING_CHEBYSHEV[backend] * (size + size.max()), 0.0)
    certain = distances[:, -1] <= floor if distances_only else distances[:, -1] < floor
    unsure = np.flatnonzero(~certain)
    if len(unsure):
        distances[unsure], indices[unsure] = _scan_rows(points, unsure, k, metric)
    return distances, indices


def _centred_sizes(points: np.ndarray, metric: str) -> np.ndarray:
    """|p - mean|^2 (euclidean) or max |p - mean| (chebyshev) per row, in blocks of rows: the points are
    never copied whole (a 160000 x 3136 layer is 4 GB)."""
    mean = points.mean(axis=0)
    sizes = np.empty(len(points))
    for start in range(0, len(points), _ROW_BLOCK):
        centred = points[start : start + _ROW_BLOCK] - mean
        if metric == "euclidean":
            sizes[start : start + _ROW_BLOCK] = np.einsum("ij,ij->i", centred, centred)
        else:
            sizes[start : start + _ROW_BLOCK] = np.abs(centred).max(axis=1)
    return sizes


def count_within(points: np.ndarray, radius: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """How many rows of ``reference`` (default: ``points``, so each row counts itself) lie within max-norm
    distance ``radius[i]`` (<=) of ``points[i]``.

    1-D: two binary searches per row in the sorted values; up to ``KD_TREE_MAX_DIMS``: a k-d tree's counting
    query; above: the compiled sweep. Repeated rows (radius 0) are counted by hashing.
    """
    points = _as_points(points)
    reference = points if reference is None else _as_points(reference)
    radius = np.asarray(radius, dtype=np.float64)
    if points.shape[1] == 1:
        return _count_within_sorted(np.sort(reference[:, 0]), points[:, 0], radius)
    counts = np.empty(len(points), dtype=np.int64)
    zero = radius == 0
    if zero.any():  # repeated rows: count equal rows by hashing, not by a tree walk over every duplicate
        _, ids = np.unique(np.vstack([reference, points[zero]]), axis=0, return_inverse=True)
        ids = ids.ravel()
        counts[zero] = np.bincount(ids[: len(reference)], minlength=ids.max() + 1)[ids[len(reference) :]]
    rest = ~zero
    if not rest.any():
        return counts
    if numba is not None and points.shape[1] > KD_TREE_MAX_DIMS:  # a k-d tree visits every leaf up there
        counts[rest] = count_within_sweep(points[rest], radius[rest], reference)
        return counts
    from scipy.spatial import cKDTree

    counts[rest] = cKDTree(reference).query_ball_point(
        points[rest], radius[rest], p=np.inf, return_length=True, workers=-1
    )
    return counts


def _count_within_sorted(values: np.ndarray, centre: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """|values - centre[i]| <= radius[i] counted by binary search; the ends are then moved by exact
    comparisons of the differences, as centre +- radius may round across a value."""
    n = len(values)
    high = np.searchsorted(values, centre + radius, side="right")
    low = np.searchsorted(values, centre - radius, side="left")
    for _ in range(n + 1):
        grow = (high < n) & (values[np.minimum(high, n - 1)] - centre <= radius)
        shrink = (high > 0) & (values[np.maximum(high - 1, 0)] - centre > radius)
        if not (grow.any() or shrink.any()):
            break
        high = high + grow - shrink
    for _ in range(n + 1):
        grow = (low > 0) & (centre - values[np.maximum(low - 1, 0)] <= radius)
        shrink = (low < n) & (centre - values[np.minimum(low, n - 1)] > radius)
        if not (grow.any() or shrink.any()):
            break
        low = low - grow + shrink
    return np.maximum(high - low, 0)
