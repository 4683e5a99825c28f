"""Coarse-graining of activations into integer codes: arrays in, codes out.

- ``fixed_width_codes``: Tishby's bins. ``n_bins`` edges ``linspace(low, high, n_bins)``;
  a value gets the index of the last edge at or below it, so codes run 0..n_bins with 0
  for values below ``low`` and n_bins for values at or above ``high`` (the published code
  wrapped values below ``low`` into the top bin; here they get a bin of their own).
- ``fixed_size_codes``: Saxe's bins, floor(t / bin_size), unbounded.
"""

from __future__ import annotations

import numpy as np

CODE_DTYPE = np.int32


def fixed_width_codes(values: np.ndarray, n_bins: int, value_range: tuple[float, float]) -> np.ndarray:
    """Index of the left edge of each value among ``linspace(low, high, n_bins)``."""
    low, high = value_range
    if not low < high:
        raise ValueError(f"value_range must have low < high, got {value_range}")
    edges = np.linspace(low, high, n_bins)
    return np.digitize(values, edges).astype(CODE_DTYPE)


def fixed_size_codes(values: np.ndarray, bin_size: float) -> np.ndarray:
    """floor(values / bin_size) as integer codes."""
    if bin_size <= 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    return np.floor(np.asarray(values) / bin_size).astype(CODE_DTYPE)


def data_range(low: float, high: float) -> tuple[float, float]:
    """A usable bin range from observed extremes; a constant layer gets a unit-wide range."""
    if not np.isfinite(low) or not np.isfinite(high):
        raise ValueError(f"activations contain non-finite values (range {low}..{high}); training diverged?")
    return (float(low), float(high)) if high > low else (float(low), float(low) + 1.0)


def reduce_values(values: np.ndarray, method: str, n_bins: int = 30, value_range: tuple[float, float] = (-1.0, 1.0), bin_size: float = 0.07) -> np.ndarray:
    """Codes of ``values`` by ``reduce.method`` (fixed-width or fixed-size)."""
    if method == "fixed-width":
        return fixed_width_codes(values, n_bins, value_range)
    if method == "fixed-size":
        return fixed_size_codes(values, bin_size)
    raise ValueError(f"unknown reduce.method {method!r}; known: fixed-width, fixed-size")


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
