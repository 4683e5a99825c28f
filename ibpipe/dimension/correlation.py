"""Correlation dimension (Grassberger & Procaccia, Physica D 9, 1983).

The slope of ln C(r) against ln r, C(r) the share of pairs closer than r, over r between two
pair-distance quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibpipe.dimension.loo_kde import _as_points, distinct_points
from ibpipe.estimators.pairwise import paired_distances


def pair_distances(points: np.ndarray, max_pairs: int = 500_000, seed: int = 0) -> np.ndarray:
    """Distances of all pairs, or of ``max_pairs`` random distinct pairs (seeded) when there are more."""
    points = _as_points(points)
    n = len(points)
    total = n * (n - 1) // 2
    if total <= max_pairs:
        from scipy.spatial.distance import pdist

        return pdist(points)
    generator = np.random.default_rng(seed)
    first = generator.integers(0, n, max_pairs)
    second = (first + generator.integers(1, n, max_pairs)) % n  # never the point itself
    return paired_distances(points, first, second)  # chunked: never all pairs' differences at once


@dataclass(frozen=True)
class Line:
    slope: float
    intercept: float
    r_squared: float


def correlation_dimension(
    points: np.ndarray,
    q_low: float = 0.001,
    q_high: float = 0.05,
    n_radii: int = 20,
    max_pairs: int = 500_000,
    seed: int = 0,
) -> float:
    """Grassberger-Procaccia dimension: slope of ln C(r) on ln r for r between the q_low and q_high
    pair-distance quantiles.

    It cannot resolve dimensions above ~2 log10 N: the scaling range needs pairs at small r.
    Repeated rows are merged first (``correlation_fit``).
    """
    return correlation_fit(points, q_low, q_high, n_radii, max_pairs, seed).slope


def correlation_fit(
    points: np.ndarray,
    q_low: float = 0.001,
    q_high: float = 0.05,
    n_radii: int = 20,
    max_pairs: int = 500_000,
    seed: int = 0,
) -> Line:
    """The least-squares line through (ln r, ln C(r)) behind ``correlation_dimension``.

    Repeated rows are merged first: copies add pairs at distance 0 and, once those are dropped,
    still weight their point's neighbourhood by the square of the multiplicity, which steepens
    C(r) at small r (a 2-D Gaussian with half its rows identical copies of others gave 2.7-3.2).
    """
    if not 0 < q_low < q_high <= 1:
        raise ValueError(f"need 0 < q_low < q_high <= 1, got {q_low}, {q_high}")
    return distance_fit(sorted_pair_distances(points, max_pairs, seed), q_low, q_high, n_radii)


def sorted_pair_distances(points: np.ndarray, max_pairs: int = 500_000, seed: int = 0) -> np.ndarray:
    """The positive pair distances ``correlation_fit`` uses, ascending: repeated rows merged, then all pairs or
    ``max_pairs`` seeded ones (``pair_distances``)."""
    distances = np.sort(pair_distances(distinct_points(points), max_pairs, seed))
    return distances[distances > 0]


def distance_fit(distances: np.ndarray, q_low: float, q_high: float, n_radii: int = 20) -> Line:
    """``correlation_fit`` on ascending positive pair distances (``sorted_pair_distances``)."""
    if len(distances) < 10:
        raise ValueError("fewer than 10 distinct pairs: the correlation dimension is undefined")
    low, high = np.quantile(distances, [q_low, q_high])
    if not high > low:
        raise ValueError(f"the {q_low} and {q_high} distance quantiles coincide ({low}); widen the scaling range")
    radii = np.geomspace(low, high, n_radii)
    share = np.searchsorted(distances, radii, side="right") / len(distances)
    return _line(np.log(radii), np.log(share))


def _line(x: np.ndarray, y: np.ndarray) -> Line:
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = np.sum((y - y.mean()) ** 2)
    return Line(float(slope), float(intercept), float(1 - residual @ residual / total) if total > 0 else 1.0)
