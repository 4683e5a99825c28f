"""Coarse-graining of activations into integer codes, one array at a time: arrays in, codes out.

- ``fixed_width_codes``: Tishby's bins. ``n_bins`` edges ``linspace(low, high, n_bins)``;
  a value gets the index of the last edge at or below it, so codes run 0..n_bins with 0
  for values below ``low`` and n_bins for values at or above ``high`` (the published code
  wrapped values below ``low`` into the top bin; here they get a bin of their own).
- ``fixed_size_codes``: Saxe's bins, floor(t / bin_size), unbounded.
- ``quantile_range_codes``: per unit, ``n_bins`` equal-width bins between that unit's
  ``q_low`` and ``q_high`` quantiles (pooled over all measured epochs, so bins stay fixed
  over training); values outside go to two end bins, codes 0..n_bins + 1.
- ``equal_mass_codes``: per unit and epoch, ``n_bins`` bins holding equal shares of the
  samples (equal-frequency quantile bins); equal values share a bin.
- ``ebab_edges`` / ``ebab_codes``: entropy-based adaptive binning of Chelombiev, Houghton &
  O'Donnell (ICLR 2019) as their code does it: per layer and epoch, all units pooled, edges at
  equal counts of *distinct* values above a low edge, a point mass (ReLU zeros) in a bin of its own.
- ``threshold_codes`` (``x > t``, input binarisation) and ``argmax_codes`` (softmax -> class).
- ``pool_activations``: non-overlapping (channel, h, w) max or average pooling before any of
  the above, so an image layer has a number of possible states comparable to N.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from ibpipe.errors import InputError

CODE_DTYPE = np.int32

# Non-finite activations (NaN, +-inf: diverged training) never reach a bin search. Each method
# gives them a reserved code one past its own largest code, so codes stay compact and nothing
# raises; the reduce stage also counts them per epoch, and the estimate stage reports every
# (epoch, layer) holding any as NaN with a warning. The reserved code is only a placeholder.


def check_n_bins(n_bins: object) -> int:
    """``n_bins`` of Tishby's fixed-width bins as an int, or an ``InputError`` saying what is allowed."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 2:
        raise InputError(
            f"n_bins = {n_bins!r} is not allowed: give an integer of at least 2 (the number of bin edges over "
            "value_range, 30 in Tishby's binning), or bin_size for bins of a fixed size"
        )
    return int(n_bins)


def _reserve_nonfinite(codes: np.ndarray, values: np.ndarray, reserved: int) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        codes[bad] = reserved
    return codes


def fixed_width_codes(values: np.ndarray, n_bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """Index of the left edge of each value among ``linspace(low, high, n_bins)``.

    Equal to ``np.digitize(values, edges)``, computed arithmetically (a few passes instead
    of a binary search per value) and then corrected against the edges themselves, so a
    value lying exactly on an edge (tanh saturates to exactly 1.0) gets the same bin.
    """
    low, high = value_range
    if not low < high:
        raise ValueError(f"value_range must have low < high, got {value_range}")
    check_n_bins(n_bins)
    edges = np.linspace(low, high, n_bins)
    values = np.asarray(values)
    scaled = (values.astype(np.float64) - low) * ((n_bins - 1) / (high - low))
    np.clip(scaled, -1.0, n_bins - 1, out=scaled)
    scaled[np.isnan(scaled)] = 0.0  # NaN would cast to int32 min and index out of the edges
    codes = np.floor(scaled, out=scaled).astype(CODE_DTYPE) + 1
    # Floating error can put a value within one ulp of an edge on the wrong side: fix it.
    codes += (codes < n_bins) & (values >= edges[np.minimum(codes, n_bins - 1)])
    codes -= (codes > 0) & (values < edges[np.maximum(codes - 1, 0)])
    return _reserve_nonfinite(codes, values, n_bins + 1)


def fixed_size_codes(values: np.ndarray, bin_size: float) -> np.ndarray:
    """floor(values / bin_size) as integer codes; non-finite values get one past the largest finite code.

    A finite quotient outside the int32 range is an ``InputError`` (it would wrap around silently).
    """
    if bin_size <= 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    values = np.asarray(values)
    finite = np.isfinite(values)
    quotient = np.floor(np.where(finite, values, 0.0) / bin_size)
    limits = np.iinfo(CODE_DTYPE)
    if quotient.size and (quotient.max() >= limits.max or quotient.min() < limits.min):
        raise InputError(
            f"values up to {np.abs(values[finite]).max():.3g} over bin_size {bin_size} overflow int32 codes; "
            "raise reduce.bin_size or use fixed-width bins"
        )
    codes = quotient.astype(CODE_DTYPE)
    reserved = int(codes[finite].max()) + 1 if finite.any() else 0
    return _reserve_nonfinite(codes, values, reserved)


def data_range(low: float, high: float) -> tuple[float, float]:
    """A usable bin range from the finite extremes; a constant layer gets a unit-wide range, and a layer
    without a single finite value (0, 1) (its codes are all the reserved non-finite code anyway)."""
    if not np.isfinite(low) or not np.isfinite(high):
        return (0.0, 1.0)
    return (float(low), float(high)) if high > low else (float(low), float(low) + 1.0)


def quantile_edges(values: np.ndarray, q_low: float, q_high: float) -> np.ndarray:
    """Per-unit (low, high) quantiles of the finite values of (n_samples, n_units): an array (2, n_units).

    A unit without finite values gets (0, 1)."""
    if not 0 <= q_low < q_high <= 1:
        raise ValueError(f"need 0 <= q_low < q_high <= 1, got {q_low}, {q_high}")
    return _finite_quantiles(values, [q_low, q_high], fill=np.array([0.0, 1.0]))


def _finite_quantiles(values: np.ndarray, levels, fill: np.ndarray) -> np.ndarray:
    """``np.quantile`` over axis 0 of the finite values only; an all-non-finite column gets ``fill``."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.all():
        return np.quantile(values, levels, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: filled below
        quantiles = np.nanquantile(np.where(finite, values, np.nan), levels, axis=0)
    empty = ~finite.any(axis=0)
    quantiles[:, empty] = np.asarray(fill, dtype=np.float64)[:, None]
    return quantiles


def quantile_range_codes(values: np.ndarray, n_bins: int, unit_ranges: np.ndarray) -> np.ndarray:
    """``n_bins`` equal bins per unit between ``unit_ranges[0]`` and ``unit_ranges[1]``, plus two end bins."""
    low, high = unit_ranges
    values = np.asarray(values)
    width = np.where(high > low, high - low, 1.0) / n_bins
    scaled = np.clip((values - low) / width, -1.0, n_bins)
    scaled[np.isnan(scaled)] = 0.0
    codes = (np.floor(scaled) + 1).astype(CODE_DTYPE)
    return _reserve_nonfinite(codes, values, n_bins + 2)


def equal_mass_codes(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Per unit, the index among ``n_bins`` equal-mass bins of (n_samples, n_units) values.

    Edges are quantiles of the finite values; non-finite values get the reserved code ``n_bins``."""
    values = np.asarray(values)
    return codes_from_edges(values, equal_mass_edges(values, n_bins))


def equal_mass_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges (n_bins - 1, n_units): the per-unit k / n_bins quantiles of the finite values."""
    levels = np.linspace(0, 1, n_bins + 1)[1:-1]
    return _finite_quantiles(values, levels, fill=levels)


# Chelombiev et al.'s low edge: -1.000001 below tanh and ELU, 0 for ReLU and softplus.
EBAB_SIGNED_LOW = -1.000001


def ebab_low(values: np.ndarray) -> float:
    """The low edge of EBAB for one layer, from its values: 0 when none is negative (ReLU, softplus,
    sigmoid: exact zeros then get a bin of their own), -1.000001 when none is below that (tanh, ELU),
    else just below the smallest value. This reproduces the per-activation choice of the authors' code."""
    finite = np.asarray(values)[np.isfinite(values)]
    smallest = float(finite.min()) if finite.size else 0.0
    if smallest >= 0:
        return 0.0
    if smallest >= EBAB_SIGNED_LOW:
        return EBAB_SIGNED_LOW
    return float(np.nextafter(smallest, -np.inf))


def ebab_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Entropy-based adaptive binning (Chelombiev, Houghton & O'Donnell, ICLR 2019): the B + 2 edges of one
    layer at one epoch, every unit's values pooled.

    With U the sorted distinct finite values above the low edge (``ebab_low``), the edges are
    [low] + [U[floor(k |U| / B)] for k = 0..B-1] + [U[-1]]: equal counts of *distinct* values per
    bin, so a point mass (ReLU's exact zeros, saturation) counts once; the largest value sits
    alone in the last bin. Non-decreasing; repeated edges (|U| < B) make empty bins.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    low = ebab_low(values)
    distinct = np.unique(values[np.isfinite(values)])
    distinct = distinct[distinct > low]
    if distinct.size == 0:
        return np.full(n_bins + 2, low)
    picks = distinct[(np.arange(n_bins) * distinct.size) // n_bins]
    return np.concatenate([[low], picks, distinct[-1:]])


def ebab_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The index of each value's left edge, ``digitize(x, edges) - 1`` (0..B+1); non-finite values get B + 2."""
    values = np.asarray(values)
    codes = (np.digitize(np.where(np.isfinite(values), values, 0.0), edges) - 1).astype(CODE_DTYPE)
    # A value below the low edge (never, by construction) would get -1: keep it in the first bin.
    np.maximum(codes, 0, out=codes)
    return _reserve_nonfinite(codes, values, len(edges))


def distinct_input_ids(inputs: np.ndarray) -> np.ndarray:
    """Id of the distinct input each row is; rows are exact duplicates or different inputs."""
    flat = np.ascontiguousarray(np.asarray(inputs).reshape(len(inputs), -1))
    as_bytes = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1])))
    _, ids = np.unique(as_bytes.ravel(), return_inverse=True)
    return ids.ravel().astype(np.int64)


POOLING_KINDS = ("max", "avg")


def pool_activations(values: np.ndarray, window: tuple[int, int, int], kind: str = "max") -> np.ndarray:
    """Non-overlapping (channel, h, w) pooling of (n_samples, channels, height, width) activations.

    Like torch's MaxPool3d / AvgPool3d with stride = kernel over (C, H, W): trailing
    channels or pixels that do not fill a whole window are dropped. A channel window of 1
    is 2-D pooling. Returns (n_samples, C // c, H // h, W // w).
    """
    if kind not in POOLING_KINDS:
        raise ValueError(f"pooling kind {kind!r} is not one of {', '.join(POOLING_KINDS)}")
    values = np.asarray(values)
    if values.ndim != 4:
        raise ValueError(f"pooling needs (samples, channels, height, width) activations, got shape {values.shape}")
    c, h, w = window
    if min(window) < 1 or c > values.shape[1] or h > values.shape[2] or w > values.shape[3]:
        raise ValueError(f"pooling window {window} does not fit activations of shape {values.shape[1:]}")
    n, channels, height, width = values.shape
    trimmed = values[:, : channels // c * c, : height // h * h, : width // w * w]
    blocks = trimmed.reshape(n, channels // c, c, height // h, h, width // w, w)
    return blocks.max(axis=(2, 4, 6)) if kind == "max" else blocks.mean(axis=(2, 4, 6))


def clipped_window(window: Sequence[int], layer_shape: Sequence[int]) -> tuple[int, int, int]:
    """A (channel, h, w) window cut down to a (C, H, W) layer: an axis shorter than the window is pooled whole."""
    if len(layer_shape) != 3:
        raise ValueError(f"pooling needs a (channels, height, width) layer; this layer has shape {tuple(layer_shape)}")
    return tuple(min(int(size), int(extent)) for size, extent in zip(window, layer_shape))


def threshold_codes(values: np.ndarray, threshold: float) -> np.ndarray:
    """1 where a value is above ``threshold``, else 0 (input binarisation ``x > 0.5``; softmax binarised);
    non-finite values 2."""
    values = np.asarray(values)
    return _reserve_nonfinite((values > threshold).astype(CODE_DTYPE), values, 2)


def argmax_codes(values: np.ndarray) -> np.ndarray:
    """The index of the largest unit of each row, as one column (the predicted class of a softmax layer)."""
    values = np.asarray(values)
    codes = values.argmax(axis=1).astype(CODE_DTYPE)[:, None]
    codes[~np.isfinite(values).all(axis=1)] = values.shape[1]  # a row with NaN or inf has no class
    return codes


def codes_from_edges(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    codes = np.empty(values.shape, dtype=CODE_DTYPE)
    for unit in range(values.shape[1]):
        codes[:, unit] = np.searchsorted(inner_edges[:, unit], values[:, unit], side="right")
    return _reserve_nonfinite(codes, values, len(inner_edges) + 1)
