"""Compression statistics of I(X;T) over training, per (trial, layer, estimator), and their summary over trials.

Shwartz-Ziv & Tishby (2017) read a compression phase as I(X;T) falling after a peak; Saxe et al.
(ICLR 2018) found it with tanh and not with ReLU, averaging many trials. Per cell we keep:

- ``peak_I_XT``: max over measured epochs of I(X;T) (bits);
- ``peak_epoch``: the first measured epoch where that maximum is reached;
- ``final_to_peak``: I(X;T) at the last measured epoch / ``peak_I_XT`` (1 = no compression; NaN when
  the peak is 0 or the curve is all NaN).

Over trials the summary gives the mean and a Student-t interval, mean +- t_{n-1,(1+level)/2} sd/sqrt(n)
(sd with n - 1 degrees of freedom; NaN bounds for a single trial). Verdict rule on final/peak:
"compresses" when the interval's upper end is below ``COMPRESSES_BELOW`` (0.9), "no compression" when
its lower end is at or above it, "undecided" otherwise (and always with a single trial). The metrics
files carry the verdict as a short code (``VERDICT_CODES``: compress, none, unclear).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import stats

COMPRESSES_BELOW = 0.9
LEVEL = 0.95
HEADER = ("estimator", "trials", "interval", "rule")


# final/peak lies in [0, 1] by definition: intervals of it are clipped to this range
FINAL_TO_PEAK_RANGE = (0.0, 1.0)


def compression_statistics(curve: xr.DataArray) -> xr.Dataset:
    """Peak I(X;T), its epoch, the final value and final/peak along ``epoch`` (every other dim kept).

    ``curve`` is I(X;T) in bits. NaN epochs are skipped: the final value is the one at the last
    epoch with a finite value (runs compared side by side measured different epochs, and a run
    that diverged ends in NaN); final/peak < 1 means the layer compressed after its peak
    (Shwartz-Ziv & Tishby 2017; Saxe et al., ICLR 2018). All-NaN curves, and curves whose peak
    is not above 0, give NaN.
    """
    values = curve.transpose(..., "epoch")
    array = values.values
    finite = np.isfinite(array)
    has_any = finite.any(axis=-1)
    peak_index = np.argmax(np.where(finite, array, -np.inf), axis=-1)
    last_index = array.shape[-1] - 1 - np.argmax(finite[..., ::-1], axis=-1)
    peak = np.where(has_any, np.take_along_axis(array, peak_index[..., None], -1)[..., 0], np.nan)
    final = np.where(has_any, np.take_along_axis(array, last_index[..., None], -1)[..., 0], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(peak > 0, final / peak, np.nan)
    peak_epoch = np.where(has_any, values.epoch.values[peak_index].astype(float), np.nan)
    dims = values.dims[:-1]
    coords = {name: coord for name, coord in values.coords.items() if "epoch" not in coord.dims}
    return xr.Dataset(
        {
            "peak_I_XT": (dims, peak, {"units": "bit", "long_name": "largest I(X;T) over the measured epochs"}),
            "peak_epoch": (dims, peak_epoch, {"units": "epoch", "long_name": "first epoch of the largest I(X;T)"}),
            "final_I_XT": (dims, final, {"units": "bit", "long_name": "I(X;T) at the last epoch with a value"}),
            "final_to_peak": (dims, ratio, {"units": "1", "long_name": "final / peak I(X;T) (1 = no compression)"}),
        },
        coords=coords,
    )


def add_compression(metrics: xr.Dataset) -> xr.Dataset:
    """The metrics Dataset with the compression statistics of its ``I_XT`` added."""
    return metrics.merge(compression_statistics(metrics["I_XT"]))


def trial_interval(
    values: np.ndarray, level: float = LEVEL, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> tuple[float, float, float]:
    """(mean, low, high): the Student-t interval of the mean over trials; NaN values are left out.

    The interval is clipped to ``bounds``, the range the quantity cannot leave (final/peak lies in
    [0, 1]): with few trials the symmetric t-interval would otherwise promise impossible values.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (float("nan"),) * 3
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf((1 + level) / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return mean, max(mean - float(half), bounds[0]), min(mean + float(half), bounds[1])


# verdict code (in metrics.json and `python -m ibpipe summary`) -> the words of the verdict
VERDICT_CODES = {"compress": "compresses", "none": "no compression", "unclear": "undecided"}
VERDICT_RULE = (
    f"compress if its upper end < {COMPRESSES_BELOW}, none if its lower end >= {COMPRESSES_BELOW}, else unclear"
)


def verdict_code(low: float, high: float) -> str:
    """``compress``, ``none`` or ``unclear``: the verdict on the interval [low, high] of final/peak."""
    if np.isfinite(high) and high < COMPRESSES_BELOW:
        return "compress"
    if np.isfinite(low) and low >= COMPRESSES_BELOW:
        return "none"
    return "unclear"


def verdict(low: float, high: float) -> str:
    """The verdict on the interval [low, high] of final/peak in words (compresses, no compression, undecided)."""
    return VERDICT_CODES[verdict_code(low, high)]


def compression_summary(metrics: xr.Dataset, estimator: str | None = None) -> dict[str, Any]:
    """Mean and t-interval over trials of final/peak per layer, with its verdict code and a one-line verdict.

    ``estimator``: whose I(X;T) is judged (default: the first estimator of the Dataset).
    """
    estimator = estimator or str(metrics.estimator.values[0])
    for dim in ("split", "reduction"):  # one summary per measured split, then per named reduction
        if dim in metrics.dims:
            nested = {}
            for value in metrics[dim].values.tolist():
                inner = compression_summary(metrics.sel({dim: value}), estimator)
                nested[str(value)] = {key: item for key, item in inner.items() if key not in HEADER}
            return {**{key: item for key, item in inner.items() if key in HEADER}, dim: nested}
    cells = metrics.sel(estimator=estimator)
    if "final_to_peak" not in cells:
        cells = cells.merge(compression_statistics(cells["I_XT"]))
    n_trials = int(cells.sizes.get("trial", 1))
    layers = {}
    for layer in cells.layer.values.tolist():
        cell = cells.sel(layer=layer)
        mean, low, high = trial_interval(np.atleast_1d(cell["final_to_peak"].values), bounds=FINAL_TO_PEAK_RANGE)
        peak, _, _ = trial_interval(np.atleast_1d(cell["peak_I_XT"].values))
        line = f"{layer}: {verdict(low, high)}, final/peak {mean:.2f} [{low:.2f}, {high:.2f}], {n_trials} trials"
        layers[layer] = {
            "final_to_peak": [round(mean, 4), round(low, 4), round(high, 4)],
            "peak_I_XT": round(peak, 4),
            "code": verdict_code(low, high),
            "verdict": line,
        }
    return {
        "estimator": estimator,
        "trials": n_trials,
        "interval": f"t {LEVEL:.0%} over trials",
        "rule": f"compresses when the upper end < {COMPRESSES_BELOW}",
        "layers": layers,
    }
