"""Leave-one-out Gaussian-KDE entropy of a point cloud, in nats.

H = -(1/N) sum_i ln[(1/(N-1)) sum_{j != i} K_h(z_i - z_j)], scalar bandwidth h chosen by ``loo-ml``
(maximise the leave-one-out likelihood, i.e. minimise H), ``scott`` or ``silverman`` (rules of
thumb on the mean variance), or given; rows optionally standardised first. Pairwise work runs
in row blocks: memory O(block x N). ``monte_carlo_entropy``: -mean ln p_hat(x) over held-out
points, p_hat the KDE of the reference points.

References: B. W. Silverman, Density Estimation (1986); D. W. Scott, Multivariate Density
Estimation (1992).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

BANDWIDTH_RULES = ("loo-ml", "scott", "silverman")


DEFAULT_BLOCK = 512


def _as_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or len(points) < 3:
        raise ValueError(f"need an array (n_points >= 3, n_dims), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points contain non-finite values")
    return points


def distinct_points(points: np.ndarray) -> np.ndarray:
    """``np.unique(points, axis=0)`` of ``_as_points(points)``: the distinct rows, sorted.

    The last call's answer is kept (keyed by a digest of the values): the dimension estimators of one
    (epoch, layer) each merge repeated rows first, and the second gets the first's rows.
    """
    import hashlib

    points = np.ascontiguousarray(_as_points(points))
    key = hashlib.blake2b(f"{points.shape}".encode() + points.view(np.uint8).ravel().tobytes(), digest_size=20)
    with _DISTINCT_LOCK:
        if _DISTINCT[0] == key.digest():
            return _DISTINCT[1]
    distinct = _sorted_distinct(points)
    distinct.flags.writeable = False  # shared between callers
    with _DISTINCT_LOCK:
        _DISTINCT[:] = [key.digest(), distinct]
    return distinct


# Up to this many columns the rows are ranked by ``np.lexsort`` (one stable sort per column), several times
# faster than ``np.unique(axis=0)``'s sort of whole rows on the narrow layers; wider rows take np.unique.
LEXSORT_MAX_DIMS = 8


def _sorted_distinct(points: np.ndarray) -> np.ndarray:
    """The distinct rows of finite ``points`` in lexicographic order: ``np.unique(points, axis=0)``, whose rows
    compare by value (0.0 and -0.0 are one row; either may stand for it, which no distance tells apart)."""
    if points.shape[1] > LEXSORT_MAX_DIMS or len(points) == 0:
        return np.unique(points, axis=0)
    ranked = points[np.lexsort(points.T[::-1])]
    new = np.ones(len(ranked), dtype=bool)
    new[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    return ranked[new]


_DISTINCT: list = [None, None]
_DISTINCT_LOCK = threading.Lock()


def standardise(points: np.ndarray) -> np.ndarray:
    """Each column shifted to mean 0 and scaled to variance 1 (constant columns only shifted)."""
    points = _as_points(points)
    scale = points.std(axis=0)
    return (points - points.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _squared_distance_blocks(
    queries: np.ndarray, reference: np.ndarray, block: int
) -> Iterator[tuple[slice, np.ndarray]]:
    from ibpipe.estimators.pairwise import block_rows, squared_distance_blocks

    # The block never exceeds the pairwise memory budget (O(block x N) memory).
    yield from squared_distance_blocks(queries, reference, rows=min(block, block_rows(len(reference))))


class _KernelSums:
    """ln sum_j exp(-|q - r_j|^2 / (2 h^2)) per query for any bandwidth h (the self pair left out when the
    queries are the reference).

    Each block's squared distances are shifted by their row minimum, so the exponent is <= 0 and
    no max-subtraction is needed per bandwidth; the blocks are kept between bandwidths while they
    fit in ``cache_bytes`` (a bandwidth search then costs one exp pass per step) and recomputed
    otherwise (memory O(block x N)).
    """

    def __init__(
        self, queries: np.ndarray, reference: np.ndarray, leave_one_out: bool, block: int, cache_bytes: int = 2**28
    ):
        self.queries, self.reference, self.leave_one_out, self.block = queries, reference, leave_one_out, block
        self.cached = (
            [self._shifted(rows, squared) for rows, squared in self._blocks()]
            if 8 * len(queries) * len(reference) <= cache_bytes
            else None
        )

    def _blocks(self):
        return _squared_distance_blocks(self.queries, self.reference, self.block)

    def _shifted(self, rows: slice, squared: np.ndarray) -> tuple[slice, np.ndarray, np.ndarray]:
        if self.leave_one_out:
            squared[np.arange(rows.stop - rows.start), np.arange(rows.start, rows.stop)] = np.inf
        nearest = squared.min(axis=1)
        squared -= nearest[:, None]
        return rows, squared, nearest

    def __call__(self, bandwidth: float) -> np.ndarray:
        scale = -0.5 / bandwidth**2
        sums = np.empty(len(self.queries))
        blocks = (
            self.cached
            if self.cached is not None
            else (self._shifted(rows, squared) for rows, squared in self._blocks())
        )
        work = None  # one scratch block for every block: the exponentials are taken in place, no temporaries
        for rows, shifted, nearest in blocks:
            if work is None or work.shape[0] < len(shifted):
                work = np.empty_like(shifted)
            kernel = work[: len(shifted)]
            np.multiply(shifted, scale, out=kernel)
            np.exp(kernel, out=kernel)
            sums[rows] = np.log(kernel.sum(axis=1)) + nearest * scale
        return sums


def _log_normaliser(bandwidth: float, n_dims: int) -> float:
    return -0.5 * n_dims * np.log(2.0 * np.pi * bandwidth**2)


def loo_log_likelihood(
    points: np.ndarray, bandwidth: float, block: int = DEFAULT_BLOCK, kernel_sums: _KernelSums | None = None
) -> float:
    """Mean leave-one-out log density (nats) of the Gaussian KDE with scalar ``bandwidth``."""
    points = _as_points(points)
    n, d = points.shape
    sums = (kernel_sums or _KernelSums(points, points, True, block))(bandwidth)
    return float(np.mean(sums) - np.log(n - 1) + _log_normaliser(bandwidth, d))


def rule_of_thumb_bandwidth(points: np.ndarray, rule: str) -> float:
    """Scott's n^(-1/(d+4)) or Silverman's (4/(d+2))^(1/(d+4)) n^(-1/(d+4)), times the root mean variance."""
    points = _as_points(points)
    n, d = points.shape
    spread = float(np.sqrt(points.var(axis=0).mean()))
    if rule == "scott":
        factor = n ** (-1.0 / (d + 4))
    elif rule == "silverman":
        factor = (4.0 / (d + 2)) ** (1.0 / (d + 4)) * n ** (-1.0 / (d + 4))
    else:
        raise ValueError(f"unknown bandwidth rule {rule!r}; known: {', '.join(BANDWIDTH_RULES)}")
    return max(spread, np.finfo(float).tiny) * factor


def loo_ml_bandwidth(points: np.ndarray, block: int = DEFAULT_BLOCK) -> float:
    """The scalar bandwidth maximising the leave-one-out likelihood, searched on log h around Silverman's."""
    from scipy.optimize import minimize_scalar

    points = _as_points(points)
    guess = np.log(rule_of_thumb_bandwidth(points, "silverman"))
    sums = _KernelSums(points, points, True, block)
    result = minimize_scalar(
        lambda log_h: -loo_log_likelihood(points, float(np.exp(log_h)), block, sums),
        bounds=(guess - 5.0, guess + 3.0),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


def choose_bandwidth(points: np.ndarray, bandwidth: str | float, block: int = DEFAULT_BLOCK) -> float:
    if isinstance(bandwidth, str):
        return loo_ml_bandwidth(points, block) if bandwidth == "loo-ml" else rule_of_thumb_bandwidth(points, bandwidth)
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    return float(bandwidth)


def loo_kde_entropy(
    points: np.ndarray, bandwidth: str | float = "loo-ml", standardised: bool = False, block: int = DEFAULT_BLOCK
) -> float:
    """Leave-one-out KDE entropy (nats) of a point cloud (n_points, n_dims).

    Duplicate points make ``loo-ml`` collapse the bandwidth (each point is best explained by its
    twin): deduplicate or add noise first when points repeat.
    """
    points = standardise(points) if standardised else _as_points(points)
    return -loo_log_likelihood(points, choose_bandwidth(points, bandwidth, block), block)


def monte_carlo_entropy(
    reference: np.ndarray, held_out: np.ndarray, bandwidth: str | float = "loo-ml", block: int = DEFAULT_BLOCK
) -> float:
    """-mean ln p_hat(x) over ``held_out`` points, p_hat the Gaussian KDE of ``reference`` (bandwidth chosen on it)."""
    reference, held_out = _as_points(reference), _as_points(held_out)
    if reference.shape[1] != held_out.shape[1]:
        raise ValueError(f"reference has {reference.shape[1]} dimensions, held-out points {held_out.shape[1]}")
    h = choose_bandwidth(reference, bandwidth, block)
    sums = _KernelSums(held_out, reference, False, block, cache_bytes=0)(h)
    return float(-(np.mean(sums) - np.log(len(reference)) + _log_normaliser(h, reference.shape[1])))
