"""What every estimator accepts, checked alike, and the ceilings every reported information obeys.

Labels: a 1-D array of class indices, integer or float with integral values (``[0., 1.]``);
one-hot (2-D) labels, fractions and non-finite labels raise ``ValueError`` with the fix.

Ceilings: I(X;T) <= H(X) and I(T;Y) <= H(Y), the plug-in entropies of the measured rows'
input ids and labels, and no mutual information below 0. A bias correction (Miller-Madow)
or a continuous estimator can cross them; ``apply_ceilings`` clips the value and counts it.
Entropies are left alone (differential ones may be negative).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ibpipe.errors import InputError
from ibpipe.units import from_bits

# Crossings smaller than this (bits) are rounding, not estimator bias, and are not counted.
ROUNDING_BITS = 1.0e-9
# Rows further apart than this (Euclidean) have a squared distance within a factor 1e8 of float64's
# largest number (1.8e308): sums of such squares over rows, as a kernel or a variance takes them, overflow.
LARGEST_DISTANCE = 1.0e150


def check_neighbours(n_neighbors: int, n_rows: int, estimator: str) -> None:
    """A ``ValueError`` unless 1 <= ``n_neighbors`` < ``n_rows`` (each row needs that many other rows)."""
    if not 1 <= n_neighbors < n_rows:
        raise InputError(
            f"n_neighbors must be in 1..{n_rows - 1} for {n_rows} rows ({estimator!r}), got {n_neighbors}: give fewer "
            "neighbours or more rows"
        )


def overflowing(values: np.ndarray) -> float:
    """The largest magnitude in finite float ``values`` (n, d) when distances between rows overflow float64, else 0.

    Squared distances (kernels, k-NN, matrix entropies) of values near 1e200 are inf, and the
    estimators would return inf or NaN among raw numpy warnings; callers report NaN with one warning.
    """
    if values.dtype.kind != "f" or values.size == 0:
        return 0.0
    largest = float(np.max(np.abs(values)))
    width = values.shape[1] if values.ndim == 2 else 1
    return largest if 2.0 * largest * math.sqrt(width) > LARGEST_DISTANCE else 0.0


def class_labels(labels: np.ndarray, n_rows: int | None = None, name: str = "labels") -> np.ndarray:
    """``labels`` as a 1-D int64 array of class indices, or a clear ``ValueError``."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        hint = " (one-hot labels: pass labels.argmax(axis=1))" if labels.ndim == 2 else ""
        raise ValueError(f"{name} must be a 1-D array of class indices, got shape {labels.shape}{hint}")
    if n_rows is not None and len(labels) != n_rows:
        raise ValueError(f"{name} have {len(labels)} rows but the layer has {n_rows}")
    if labels.dtype == bool or np.issubdtype(labels.dtype, np.integer):
        return labels.astype(np.int64, copy=False)
    if not np.issubdtype(labels.dtype, np.floating):
        raise ValueError(f"{name} must be integers or integral floats, got dtype {labels.dtype}")
    if not np.all(np.isfinite(labels)):
        raise ValueError(f"{name} hold NaN or inf; every row needs a class")
    if np.any(labels != np.round(labels)):
        example = labels[labels != np.round(labels)][0]
        raise ValueError(f"{name} must be integral class indices, got fractional values such as {example}")
    return labels.astype(np.int64)


def plugin_entropy_bits(ids: np.ndarray) -> float:
    """-sum p log2 p of the values of a 1-D integer array (0 for no rows)."""
    if len(ids) == 0:
        return 0.0
    _, counts = np.unique(ids, return_counts=True)
    probabilities = counts / counts.sum()
    return float(-(probabilities * np.log2(probabilities)).sum())


class Ceilings(NamedTuple):
    """H(X) and H(Y) of the measured rows, in the estimator's unit."""

    I_XT: float
    I_TY: float


def ceilings(labels: np.ndarray, x_ids: np.ndarray | None, base: float = 2.0) -> Ceilings:
    """Plug-in H(X) (log N when ``x_ids`` is None: every row its own input) and H(Y), in units of log ``base``."""
    scale = from_bits(1.0, base)
    h_x = np.log2(len(labels)) if x_ids is None and len(labels) else plugin_entropy_bits(np.asarray(x_ids).ravel())
    return Ceilings(float(h_x) * scale, plugin_entropy_bits(labels) * scale)


def apply_ceilings(values: Mapping[str, float], limits: Ceilings) -> tuple[dict[str, float], int]:
    """``values`` with I_XT and I_TY clipped to [0, ceiling]; also how many crossed by more than rounding.

    NaN stays NaN (a non-finite layer is reported, not hidden).
    """
    clipped = dict(values)
    n_capped = 0
    for quantity, ceiling in limits._asdict().items():
        value = values.get(quantity)
        if value is None or np.isnan(value):
            continue
        bounded = min(max(value, 0.0), ceiling)
        n_capped += int(abs(bounded - value) > ROUNDING_BITS)
        clipped[quantity] = float(bounded)
    return clipped, n_capped
