"""The points an autoencoder curve is measured on: at most n rows (a seeded subset), as float64."""

from __future__ import annotations

import numpy as np

from ibpipe.dimension.loo_kde import standardise


def prepare_points(points: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Rows as float64 (n, features): duplicates merged (they collapse a leave-one-out bandwidth),
    at most ``max_rows`` kept (seeded), every feature standardised (constant ones only centred)."""
    points = np.unique(np.asarray(points, dtype=np.float64).reshape(len(points), -1), axis=0)
    if len(points) > max_rows:
        points = points[np.sort(np.random.default_rng(seed).choice(len(points), max_rows, replace=False))]
    return standardise(points)
