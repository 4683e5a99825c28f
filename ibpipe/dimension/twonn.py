"""TwoNN (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 7:12140, 2017).

The Pareto exponent of each point's second to first neighbour distance ratio.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ibpipe.dimension.loo_kde import distinct_points
from ibpipe.estimators.neighbours import kneighbors
from ibpipe.estimators.pairwise import KD_TREE_MAX_DIMS, cached_njit, principal_axis

# mu within this relative distance of 1 is a tie: r2 = r1 up to rounding (lattice or rounded data).
TIE_TOLERANCE = 1e-9


class TwoNNResult(NamedTuple):
    """``dimension``; ``discarded``: points whose ratio mu = r2 / r1 was a tie (mu = 1) and was left
    out; ``n_points``: distinct points. ``dimension`` is NaN only when fewer than 3 ratios remain."""

    dimension: float
    discarded: int
    n_points: int


def twonn_fit(points: np.ndarray, discard_fraction: float = 0.1) -> TwoNNResult:
    """TwoNN: mu = r2 / r1 per point follows a Pareto law F(mu) = 1 - mu^-d; d is the slope through the
    origin of -ln(1 - F) against ln mu, fitted on all but the largest ``discard_fraction`` of the ratios
    (Facco et al. 2017).

    Duplicate points are merged first (a zero first-neighbour distance has no ratio). Ties, mu = 1
    (two neighbours at the same distance, as on a lattice or on rounded data), carry no scale
    information and would pull d towards infinity (ln mu = 0): they are discarded and counted.
    When fewer than 3 ratios remain (the binary hypercube: every point has 12 neighbours at
    distance 1), the dimension is NaN, reported with the count. Fewer than 3 distinct points is a
    ``ValueError``.
    """
    points = distinct_points(points)
    if len(points) < 3:
        raise ValueError("fewer than 3 distinct points: the TwoNN dimension is undefined")
    distances = two_nearest_distances(points)
    ratios = distances[:, 1] / distances[:, 0]
    tied = ratios <= 1.0 + TIE_TOLERANCE
    ratios = np.sort(ratios[~tied])
    n = len(ratios)
    if n < 3:
        return TwoNNResult(np.nan, int(tied.sum()), len(points))
    kept = max(2, int(np.floor(n * (1 - discard_fraction))))
    x = np.log(ratios[:kept])
    y = -np.log(1.0 - np.arange(kept) / n)
    return TwoNNResult(float(x @ y / (x @ x)), int(tied.sum()), len(points))


def two_nearest_distances(points: np.ndarray) -> np.ndarray:
    """Distances (n, 2) of each of the distinct ``points`` to its nearest and second nearest other point.

    At most ``SWEEP_MAX_DIMS`` dimensions: a compiled sweep along the principal axis, each row searching
    outwards until the axis gap alone exceeds its second distance (exact: a gap on a unit axis never
    exceeds the distance); up to ``KD_TREE_MAX_DIMS``: scipy's k-d tree; more: ``kneighbors`` (FAISS,
    torch or blocks, as ``estimate.device`` says).
    """
    if points.shape[1] > KD_TREE_MAX_DIMS:
        return kneighbors(points, 2, distances_only=True)[0]
    if numba is None or points.shape[1] > SWEEP_MAX_DIMS:
        from scipy.spatial import cKDTree

        return cKDTree(points).query(points, 3)[0][:, 1:]
    projection = points @ principal_axis(points)
    order = np.argsort(projection, kind="stable")
    squared = _two_nearest_sweep(np.ascontiguousarray(points[order]), projection[order])
    distances = np.empty_like(squared)
    distances[order] = np.sqrt(squared)
    return distances


# Up to this many dimensions the sweep along one axis beats the k-d tree (4096 rows of the 12-bit network:
# 2-5x on 2-4 units, even on 5); above it one axis prunes too little (on 10 units a row visits half the rows).
SWEEP_MAX_DIMS = 5
# Slack on the axis-gap test: the gap's rounding must never cut off a neighbour at the second distance.
_GAP_SLACK = 1e-9

try:  # numba is a dependency; without it the k-d tree answers
    import numba
except ImportError:  # pragma: no cover
    numba = None

if numba is not None:

    @cached_njit(nogil=True)
    def _two_nearest_sweep(points, projection):  # pragma: no cover - compiled
        """Squared distances (n, 2) to the two nearest other rows of ``points`` sorted by ``projection``."""
        n_points, n_dims = points.shape
        result = np.empty((n_points, 2))
        for i in range(n_points):
            first, second = np.inf, np.inf
            for direction in (-1, 1):
                j = i + direction
                while 0 <= j < n_points:
                    gap = projection[j] - projection[i]
                    if gap * gap > second * (1.0 + _GAP_SLACK):
                        break
                    squared = 0.0
                    for unit in range(n_dims):
                        difference = points[i, unit] - points[j, unit]
                        squared += difference * difference
                    if squared < first:
                        first, second = squared, first
                    elif squared < second:
                        second = squared
                    j += direction
            result[i, 0] = first
            result[i, 1] = second
        return result


def twonn_dimension(points: np.ndarray, discard_fraction: float = 0.1) -> float:
    """The dimension of ``twonn_fit`` alone."""
    return twonn_fit(points, discard_fraction).dimension
