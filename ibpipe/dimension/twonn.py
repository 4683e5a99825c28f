"""TwoNN (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 7:12140, 2017).

The Pareto exponent of each point's second to first neighbour distance ratio.
"""

from __future__ import annotations

import numpy as np

from ibpipe.dimension.loo_kde import _as_points
from ibpipe.estimators.pairwise import KD_TREE_MAX_DIMS, nearest_distances


def twonn_dimension(points: np.ndarray, discard_fraction: float = 0.1) -> float:
    """TwoNN: mu = r2 / r1 per point follows a Pareto law F(mu) = 1 - mu^-d; d is the slope through the
    origin of -ln(1 - F) against ln mu, fitted on all but the largest ``discard_fraction`` of the ratios
    (Facco et al. 2017). Duplicate points are merged first (a zero first-neighbour distance has no ratio).
    """
    from scipy.spatial import cKDTree

    points = np.unique(_as_points(points), axis=0)
    if len(points) < 3:
        raise ValueError("fewer than 3 distinct points: the TwoNN dimension is undefined")
    distances = (
        nearest_distances(points, 2)
        if points.shape[1] > KD_TREE_MAX_DIMS
        else cKDTree(points).query(points, 3)[0][:, 1:]
    )
    ratios = np.sort(distances[:, 1] / distances[:, 0])
    n = len(ratios)
    kept = max(2, int(np.floor(n * (1 - discard_fraction))))
    x = np.log(ratios[:kept])
    y = -np.log(1.0 - np.arange(kept) / n)
    return float(x @ y / (x @ x))
