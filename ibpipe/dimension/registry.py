"""The one table of intrinsic-dimension estimators: params validation, the estimate stage and the docs read it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ibpipe.dimension.correlation import correlation_dimension
from ibpipe.dimension.twonn import twonn_fit


class DimensionValue(NamedTuple):
    """An estimate and how many points it discarded as ties (TwoNN's mu = 1; 0 for the others)."""

    dimension: float
    discarded: int


@dataclass(frozen=True)
class DimensionEstimator:
    """``variable`` is its name in the metrics Dataset; ``estimate(points, max_pairs, seed)`` its value and how
    many points it discarded as ties (a ``DimensionValue``)."""

    variable: str
    estimate: Callable[[np.ndarray, int, int], DimensionValue]
    reference: str


DIMENSION_ESTIMATORS: dict[str, DimensionEstimator] = {
    "corrdim": DimensionEstimator(
        "corrdim",
        lambda points, max_pairs, seed: DimensionValue(
            correlation_dimension(points, max_pairs=max_pairs, seed=seed), 0
        ),
        "Grassberger & Procaccia, Physica D 9 (1983)",
    ),
    "twonn": DimensionEstimator(
        "nn_dim",
        lambda points, max_pairs, seed: DimensionValue(*twonn_fit(points)[:2]),
        "Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 7:12140 (2017)",
    ),
}
