"""The correlation integral behind the correlation dimension, as a curve: ln C(r) against ln r over every
pair distance, with the scaling range the slope is fitted on (Grassberger & Procaccia, Physica D 9, 1983).

The slope alone (``ibpipe.dimension.correlation.correlation_dimension``) hides whether the fitted
range is straight; the curve shows it: a plateau of slope D at small r, bending to 0 as C(r) -> 1.
"""

from __future__ import annotations

import numpy as np

from ibpipe.dimension.correlation import distance_fit, sorted_pair_distances

# Radii of a drawn curve, log-spaced from the smallest to the largest pair distance.
CURVE_RADII = 40


def correlation_curve(
    points: np.ndarray,
    q_low: float,
    q_high: float,
    max_pairs: int = 500_000,
    seed: int = 0,
    n_radii: int = CURVE_RADII,
) -> dict[str, np.ndarray]:
    """``ln_r`` (n_radii,) from the smallest to the largest positive pair distance and ``ln_C`` there (C(r): the
    share of pairs closer than or at r), the fitted range ``fit_ln_r`` (2,): ln of the ``q_low`` and ``q_high``
    pair-distance quantiles, and ``fit_line`` (2,): slope and intercept of ``correlation_fit`` on that range (the
    slope is the correlation dimension). Repeated rows are merged first and the same seeded pairs are used, as in
    ``correlation_fit``."""
    points = np.asarray(points, dtype=np.float64)
    points = points[:, None] if points.ndim == 1 else points
    if not 0 < q_low < q_high <= 1:
        raise ValueError(f"need 0 < q_low < q_high <= 1, got {q_low}, {q_high}")
    distances = sorted_pair_distances(points, max_pairs, seed)
    fit = distance_fit(distances, q_low, q_high)  # the pairs are drawn and sorted once, for the curve and the fit
    radii = np.geomspace(distances[0], distances[-1], n_radii)
    share = np.searchsorted(distances, radii, side="right") / len(distances)
    return {
        "ln_r": np.log(radii),
        "ln_C": np.log(share),
        "fit_ln_r": np.log(np.quantile(distances, [q_low, q_high])),
        "fit_line": np.array([fit.slope, fit.intercept]),
    }
