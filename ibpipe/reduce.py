"""Coarse-graining of activations into integer codes: arrays in, codes out.

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
"""

from __future__ import annotations

import numpy as np

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
        raise ValueError(f"activations contain non-finite values (range {low}..{high}); training diverged?")
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
    inner_edges = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1], axis=0)
    codes = np.empty(values.shape, dtype=CODE_DTYPE)
    for unit in range(values.shape[1]):
        codes[:, unit] = np.searchsorted(inner_edges[:, unit], values[:, unit], side="right")
    return codes


REDUCE_METHODS = ("fixed-width", "fixed-size", "quantile", "adaptive")


def reduce_values(
    values: np.ndarray,
    method: str,
    n_bins: int = 30,
    value_range: tuple[float, float] = (-1.0, 1.0),
    bin_size: float = 0.07,
    unit_ranges: np.ndarray | None = None,
) -> np.ndarray:
    """Codes of one epoch's (n_samples, n_units) ``values`` by ``reduce.method``.

    ``unit_ranges`` (2, n_units) are the per-unit quantile ranges the ``quantile`` method needs.
    """
    if method == "fixed-width":
        return fixed_width_codes(values, n_bins, value_range)
    if method == "fixed-size":
        return fixed_size_codes(values, bin_size)
    if method == "quantile":
        if unit_ranges is None:
            raise ValueError("the quantile method needs per-unit ranges (quantile_edges)")
        return quantile_range_codes(values, n_bins, unit_ranges)
    if method == "adaptive":
        return equal_mass_codes(values, n_bins)
    raise ValueError(f"unknown reduce.method {method!r}; known: {', '.join(REDUCE_METHODS)}")


def reduce_single_epoch(values: np.ndarray, method: str, n_bins: int, value_range, bin_size: float, q_low: float, q_high: float) -> np.ndarray:
    """``reduce_values`` for one epoch seen alone (delta-skip probes): ranges that the reduce
    stage takes over all measured epochs (``value_range: data``, ``quantile``) come from this epoch."""
    unit_ranges = quantile_edges(values, q_low, q_high) if method == "quantile" else None
    if method == "fixed-width" and value_range == "data":
        value_range = data_range(float(np.min(values)), float(np.max(values)))
    return reduce_values(values, method, n_bins, tuple(value_range) if method == "fixed-width" else (-1.0, 1.0), bin_size, unit_ranges)


def distinct_input_ids(inputs: np.ndarray) -> np.ndarray:
    """Id of the distinct input each row is; rows are exact duplicates or different inputs."""
    flat = np.ascontiguousarray(np.asarray(inputs).reshape(len(inputs), -1))
    as_bytes = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1])))
    _, ids = np.unique(as_bytes.ravel(), return_inverse=True)
    return ids.ravel().astype(np.int64)


def running_range(slabs) -> tuple[float, float]:
    """Smallest and largest value over an iterable of arrays, read one at a time."""
    low, high = np.inf, -np.inf
    for values in slabs:
        low, high = min(low, float(np.min(values))), max(high, float(np.max(values)))
    return data_range(low, high)


def pooled_rows(slabs, n_rows_total: int, max_rows: int = 200_000) -> np.ndarray:
    """Rows of (epoch, sample, unit) slabs pooled over epochs, keeping every k-th row so at most ``max_rows`` remain."""
    stride = max(1, -(-n_rows_total // max_rows))
    kept = [values.reshape(-1, values.shape[-1])[::stride] for values in slabs]
    return np.concatenate(kept)


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
