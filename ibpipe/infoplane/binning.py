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
  samples ("adaptive" bins of Chelombiev et al., ICLR 2019); equal values share a bin.
- ``threshold_codes`` (``x > t``, input binarisation) and ``argmax_codes`` (softmax -> class).
- ``pool_activations``: non-overlapping (channel, h, w) max or average pooling before any of
  the above, so an image layer has a number of possible states comparable to N.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ibpipe.errors import InputError

CODE_DTYPE = np.int32


def fixed_width_codes(values: np.ndarray, n_bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """Index of the left edge of each value among ``linspace(low, high, n_bins)``.

    Equal to ``np.digitize(values, edges)``, computed arithmetically (a few passes instead
    of a binary search per value) and then corrected against the edges themselves, so a
    value lying exactly on an edge (tanh saturates to exactly 1.0) gets the same bin.
    """
    low, high = value_range
    if not low < high:
        raise ValueError(f"value_range must have low < high, got {value_range}")
    edges = np.linspace(low, high, n_bins)
    scaled = (np.asarray(values, dtype=np.float64) - low) * ((n_bins - 1) / (high - low))
    np.clip(scaled, -1.0, n_bins - 1, out=scaled)
    codes = np.floor(scaled, out=scaled).astype(CODE_DTYPE) + 1
    # Floating error can put a value within one ulp of an edge on the wrong side: fix it.
    codes += (codes < n_bins) & (values >= edges[np.minimum(codes, n_bins - 1)])
    codes -= (codes > 0) & (values < edges[np.maximum(codes - 1, 0)])
    return codes


def fixed_size_codes(values: np.ndarray, bin_size: float) -> np.ndarray:
    """floor(values / bin_size) as integer codes."""
    if bin_size <= 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    quotient = np.asarray(values) / bin_size
    return np.floor(quotient, out=quotient).astype(CODE_DTYPE)


def data_range(low: float, high: float) -> tuple[float, float]:
    """A usable bin range from observed extremes; a constant layer gets a unit-wide range."""
    if not np.isfinite(low) or not np.isfinite(high):
        raise InputError(f"activations contain non-finite values (range {low}..{high}); training diverged?")
    return (float(low), float(high)) if high > low else (float(low), float(low) + 1.0)


def quantile_edges(values: np.ndarray, q_low: float, q_high: float) -> np.ndarray:
    """Per-unit (low, high) quantiles of (n_samples, n_units) values: an array (2, n_units)."""
    if not 0 <= q_low < q_high <= 1:
        raise ValueError(f"need 0 <= q_low < q_high <= 1, got {q_low}, {q_high}")
    return np.quantile(np.asarray(values, dtype=np.float64), [q_low, q_high], axis=0)


def quantile_range_codes(values: np.ndarray, n_bins: int, unit_ranges: np.ndarray) -> np.ndarray:
    """``n_bins`` equal bins per unit between ``unit_ranges[0]`` and ``unit_ranges[1]``, plus two end bins."""
    low, high = unit_ranges
    width = np.where(high > low, high - low, 1.0) / n_bins
    inside = np.floor((np.asarray(values) - low) / width).astype(np.int64) + 1
    return np.clip(inside, 0, n_bins + 1).astype(CODE_DTYPE)


def equal_mass_codes(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Per unit, the index among ``n_bins`` equal-mass bins of (n_samples, n_units) values."""
    values = np.asarray(values)
    return _codes_from_edges(values, np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1], axis=0))


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
    """1 where a value is above ``threshold``, else 0 (input binarisation ``x > 0.5``; softmax binarised)."""
    return (np.asarray(values) > threshold).astype(CODE_DTYPE)


def argmax_codes(values: np.ndarray) -> np.ndarray:
    """The index of the largest unit of each row, as one column (the predicted class of a softmax layer)."""
    return np.asarray(values).argmax(axis=1).astype(CODE_DTYPE)[:, None]


def _codes_from_edges(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    codes = np.empty(values.shape, dtype=CODE_DTYPE)
    for unit in range(values.shape[1]):
        codes[:, unit] = np.searchsorted(inner_edges[:, unit], values[:, unit], side="right")
    return codes
