"""TwoNN (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 7:12140, 2017).

The Pareto exponent of each point's second to first neighbour distance ratio.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ibpipe.dimension.loo_kde import _as_points, distinct_points
from ibpipe.estimators.neighbours import kneighbors
from ibpipe.estimators.pairwise import KD_TREE_MAX_DIMS

# mu within this relative distance of 1 is a tie: r2 = r1 up to rounding (lattice or rounded data).
TIE_TOLERANCE = 1e-9
# How the empirical distribution of the sorted ratios is written: F(mu_(i)) = (i - 1) / N with ties left out
# (``ibpipe``), or i / N with ties kept, as the paper writes it and scikit-dimension's ``TwoNN`` fits it.
CONVENTIONS = ("ibpipe", "scikit-dimension")


class TwoNNResult(NamedTuple):
    """``dimension``; ``discarded``: points whose ratio mu = r2 / r1 was a tie (mu = 1) and was left
    out; ``n_points``: distinct points. ``dimension`` is NaN only when fewer than 3 ratios remain."""

    dimension: float
    discarded: int
    n_points: int


def twonn_fit(points: np.ndarray, discard_fraction: float = 0.1, convention: str = "ibpipe") -> TwoNNResult:
    """TwoNN: mu = r2 / r1 per point follows a Pareto law F(mu) = 1 - mu^-d; d is the slope through the
    origin of -ln(1 - F) against ln mu, fitted on all but the largest ``discard_fraction`` of the ratios
    (Facco et al. 2017).

    Duplicate points are merged first (a zero first-neighbour distance has no ratio). Ties, mu = 1
    (two neighbours at the same distance, as on a lattice or on rounded data), carry no scale
    information and would pull d towards infinity (ln mu = 0): they are discarded and counted.
    When fewer than 3 ratios remain (the binary hypercube: every point has 12 neighbours at
    distance 1), the dimension is NaN, reported with the count. Fewer than 3 distinct points is a
    ``ValueError``.

    ``convention``: ``ibpipe`` fits F(mu_(i)) = (i - 1) / N for the i-th smallest of the N ratios (so the
    fit never meets ln 0); ``scikit-dimension`` fits i / N with ties kept, the paper's formula and
    ``skdim.id.TwoNN``'s linear fit (equal to it on the same distinct points; it needs discard_fraction > 0).
    The two differ by O(1/N) relative (1e-2 at N = 5000 in 16 dimensions).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if not 0 <= discard_fraction < 1 or (convention == "scikit-dimension" and discard_fraction == 0):
        raise ValueError(f"discard_fraction must be in [0, 1) (> 0 for {convention}), got {discard_fraction}")
    points = _as_points(points)
    if _repeats(points):
        points = distinct_points(points)
    if len(points) < 3:
        raise ValueError("fewer than 3 distinct points: the TwoNN dimension is undefined")
    distances = two_nearest_distances(points)
    if not distances[:, 0].all():  # rows equal in value, not in bytes (0.0 and -0.0): merge them, search again
        points = distinct_points(points)
        distances = two_nearest_distances(points)
    ratios = distances[:, 1] / distances[:, 0]
    tied = ratios <= 1.0 + TIE_TOLERANCE if convention == "ibpipe" else np.zeros(len(ratios), dtype=bool)
    ratios = np.sort(ratios[~tied])
    n = len(ratios)
    if n < 3:
        return TwoNNResult(np.nan, int(tied.sum()), len(points))
    kept = max(2, int(np.floor(n * (1 - discard_fraction))))
    x = np.log(ratios[:kept])
    y = -np.log(1.0 - (np.arange(kept) + (convention == "scikit-dimension")) / n)
    return TwoNNResult(float(x @ y / (x @ x)), int(tied.sum()), len(points))


def _repeats(points: np.ndarray) -> bool:
    """Whether some rows may repeat, by a hash of each row's bytes (a tenth of a second for 20000 x 1024, where
    sorting the rows takes seconds): equal rows hash equal, so no two equal hashes means no repeated row."""
    return len({hash(row.tobytes()) for row in points}) < len(points)


def two_nearest_distances(points: np.ndarray) -> np.ndarray:
    """Distances (n, 2) of each of the ``points`` to its nearest and second nearest other point: scipy's k-d
    tree up to ``KD_TREE_MAX_DIMS`` dimensions, ``kneighbors`` above (FAISS candidates checked in float64,
    torch or blocks, as ``estimate.device`` says: about one FAISS search). (A compiled sweep along the
    principal axis was no faster on the default run's 2-5 unit layers in CPU time, and slower on 5.)"""
    if points.shape[1] > KD_TREE_MAX_DIMS:
        return kneighbors(points, 2, distances_only=True)[0]
    from scipy.spatial import cKDTree

    return cKDTree(points).query(points, 3)[0][:, 1:]


def twonn_dimension(points: np.ndarray, discard_fraction: float = 0.1) -> float:
    """The dimension of ``twonn_fit`` alone."""
    return twonn_fit(points, discard_fraction).dimension
