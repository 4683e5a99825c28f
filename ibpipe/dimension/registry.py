"""The one table of intrinsic-dimension estimators: params validation, the estimate stage and the docs read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ibpipe.dimension.correlation import correlation_dimension
from ibpipe.dimension.twonn import twonn_dimension


@dataclass(frozen=True)
class DimensionEstimator:
    """``variable`` is its name in the metrics Dataset; ``estimate(points, max_pairs, seed)`` its value."""

    variable: str
    estimate: Callable[[np.ndarray, int, int], float]
    reference: str


DIMENSION_ESTIMATORS: dict[str, DimensionEstimator] = {
    "corrdim": DimensionEstimator(
        "corrdim",
        lambda points, max_pairs, seed: correlation_dimension(points, max_pairs=max_pairs, seed=seed),
        "Grassberger & Procaccia, Physica D 9 (1983)",
    ),
    "twonn": DimensionEstimator(
        "nn_dim",
        lambda points, max_pairs, seed: twonn_dimension(points),
        "Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 7:12140 (2017)",
    ),
}
