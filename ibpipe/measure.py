"""Information per (epoch, layer, estimator): the one-layer API, the Dask task and the Dataset it fills."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ibpipe import reduce as reducing
from ibpipe.estimators import ESTIMATORS, QUANTITIES, bootstrap_interval, estimate_layer, needs
from ibpipe.estimators.plugin import entropy_bits, state_ids
from ibpipe.estimators.rowkeys import bounded_row_keys

QUANTITY_NAMES = {
    "H_T": "entropy of the layer H(T)",
    "I_XT": "mutual information between input and layer I(X;T)",
    "I_TY": "mutual information between layer and label I(T;Y)",
}
BOUNDS = ("lower", "upper")


@dataclass(frozen=True)
class EstimateOptions:
    """Settings shared by every (epoch, layer) task of one estimate run."""

    estimators: tuple[str, ...]
    noise_variance: float = 1.0e-3
    n_neighbors: int = 3
    bootstrap_resamples: int = 0
    bootstrap_level: float = 0.9
    seed: int = 0
    window: int = 1
    dimensions: tuple[str, ...] = ()
    dimension_pairs: int = 100_000

    def run(self, labels, codes=None, activations=None, x_ids=None, estimators=None) -> dict[str, dict[str, float]]:
        return estimate_layer(
            estimators or self.estimators,
            labels,
            codes=codes,
            activations=activations,
            x_ids=x_ids,
            noise_variance=self.noise_variance,
            n_neighbors=self.n_neighbors,
            random_state=self.seed,
        )


def information(
    t: np.ndarray,
    y: np.ndarray,
    estimator: str = "plugin",
    *,
    x_ids: np.ndarray | None = None,
    n_bins: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    bin_size: float | None = None,
    noise_variance: float = 1.0e-3,
    n_neighbors: int = 3,
    random_state: int = 0,
) -> dict[str, float]:
    """H(T), I(X;T) and I(T;Y) in bits for one layer.

    Parameters
    ----------
    t : (n_samples, n_units) activations; for the counting estimators (``plugin``,
        ``miller-madow``) integer codes are also accepted when no binning option is given.
    y : (n_samples,) integer labels.
    estimator : one of ``plugin``, ``miller-madow``, ``kde-upper``, ``kde-lower``, ``knn``.
    x_ids : (n_samples,) which distinct input each row came from; default: all rows distinct.
    n_bins, value_range : Tishby's bins, left edges ``linspace(*value_range, n_bins)``.
    bin_size : Saxe's bins, ``floor(t / bin_size)``.
    noise_variance : s2 of the Gaussian noise of ``kde-*`` and ``knn``.
    n_neighbors, random_state : k and noise seed of ``knn``.

    Examples
    --------
    >>> import numpy as np
    >>> info = information(np.array([[0], [1], [2], [3]]), np.array([0, 0, 1, 1]))
    >>> info["H_T"], info["I_TY"]
    (2.0, 1.0)
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")
    t = np.asarray(t)
    if t.ndim == 1:
        t = t[:, None]
    if n_bins is not None and bin_size is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    options = EstimateOptions((estimator,), noise_variance, n_neighbors, seed=random_state)
    if ESTIMATORS[estimator].needs == "activations":
        return options.run(np.asarray(y), activations=t, x_ids=x_ids)[estimator]
    if n_bins is not None:
        t = reducing.fixed_width_codes(t, n_bins, value_range)
    elif bin_size is not None:
        t = reducing.fixed_size_codes(t, bin_size)
    elif not np.issubdtype(t.dtype, np.integer):
        raise ValueError("float activations need a binning option: n_bins (with value_range) or bin_size")
    return options.run(np.asarray(y), codes=t, x_ids=x_ids)[estimator]


DIMENSION_NAMES = {"corrdim": "corrdim", "twonn": "nn_dim"}


def activation_dimensions(activations: np.ndarray, options: EstimateOptions) -> np.ndarray:
    """Intrinsic dimension of one epoch's raw activations by each of ``options.dimensions`` (NaN where undefined,
    e.g. a layer with fewer than 3 distinct rows)."""
    from ibpipe import dimension

    estimates = {
        "corrdim": lambda: dimension.correlation_dimension(activations, max_pairs=options.dimension_pairs, seed=options.seed),
        "twonn": lambda: dimension.twonn_dimension(activations),
    }
    values = []
    for name in options.dimensions:
        try:
            values.append(estimates[name]())
        except ValueError:
            values.append(np.nan)
    return np.asarray(values, dtype=np.float64)


def distinct_states(codes: np.ndarray) -> int:
    """How many different rows ``codes`` holds (N when every sample is its own state: saturation)."""
    return int(np.unique(state_ids(codes)[0]).size)


def _as_row(values: Mapping[str, Mapping[str, float]], estimators: Sequence[str]) -> np.ndarray:
    return np.array([[values[name][q] for q in QUANTITIES] for name in estimators])


def epoch_information(options: EstimateOptions, labels: np.ndarray, x_ids: np.ndarray, codes=None, activations=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Point estimates (n_estimators, n_quantities) and, with bootstrap on, intervals (..., 2)."""
    point = _as_row(options.run(labels, codes, activations, x_ids), options.estimators)
    if options.bootstrap_resamples == 0:
        return point, None

    def pick(values, rows):
        return None if values is None else values[rows]

    intervals = np.empty(point.shape + (2,))
    for column, name in enumerate(options.estimators):
        def resampled(rows, name=name):
            return options.run(labels[rows], pick(codes, rows), pick(activations, rows), x_ids[rows], (name,))[name]

        bounds = bootstrap_interval(resampled, len(labels), options.bootstrap_resamples, options.bootstrap_level, options.seed)
        intervals[column] = [bounds[q] for q in QUANTITIES]
    return point, intervals


def slab_information(
    options: EstimateOptions, labels: np.ndarray, x_ids: np.ndarray, codes_slab=None, activations_slab=None, lead: int = 0
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Every epoch of an (epoch, sample, unit) slab but the first ``lead``.

    Returns points (n_epochs - lead, n_estimators, n_quantities), intervals (..., 2) or None,
    the number of distinct states of the codes per epoch (NaN without codes), and the
    intrinsic dimensions of the epoch's own activations (n_epochs - lead, len(options.dimensions)).

    With ``options.window = w > 1`` the epoch at position p is measured on the w epochs
    p - w + 1 .. p pooled into one sample of w x N rows (inputs and labels repeated), so
    T given X has a real distribution ("as if random"); the slab then starts ``lead``
    epochs early to supply them, and positions without w epochs before them are NaN.
    """
    slab = codes_slab if codes_slab is not None else activations_slab
    window = options.window
    pooled_labels, pooled_ids = np.tile(labels, window), np.tile(x_ids, window)

    def pool(values, first, last):
        return None if values is None else np.concatenate(list(values[first : last + 1]))

    points, intervals, states = [], [], []
    dimensions = [activation_dimensions(activations_slab[position], options) for position in range(lead, len(slab))] if options.dimensions else []
    for position in range(lead, len(slab)):
        first = position - window + 1
        if first < 0:
            points.append(np.full((len(options.estimators), len(QUANTITIES)), np.nan))
            intervals.append(None if options.bootstrap_resamples == 0 else np.full(points[-1].shape + (2,), np.nan))
            states.append(np.nan)
            continue
        codes = pool(codes_slab, first, position)
        point, interval = epoch_information(options, pooled_labels, pooled_ids, codes, pool(activations_slab, first, position))
        points.append(point)
        intervals.append(interval)
        states.append(np.nan if codes is None else distinct_states(codes))
    dimensions = np.stack(dimensions) if dimensions else np.empty((len(points), 0))
    return np.stack(points), (None if intervals[0] is None else np.stack(intervals)), np.asarray(states, dtype=np.float64), dimensions


def stored_state_ids(codes_path: str, layer: str, start: int, stop: int) -> np.ndarray:
    """State ids (n_epochs, n_samples, 1) of epochs [start, stop) of one layer's codes, read one shard's samples at a time.

    Rows are keyed chunk by chunk against the layer's code bounds (the same row always
    gets the same key) and the keys of all the epochs made dense together, so ids compare
    across the epochs of a window. Memory: one chunk of codes plus 8 bytes per (epoch, sample).
    """
    from ibpipe.store import open_layer_store, read_slab_chunks

    group = open_layer_store(codes_path)[layer]
    low, high = group["code_low"][...], group["code_high"][...]
    keys = [
        np.stack([bounded_row_keys(epoch_codes, low, high) for epoch_codes in chunk])
        for chunk in read_slab_chunks(codes_path, layer, "code", start, stop)
    ]
    keys = np.concatenate(keys, axis=1)
    _, dense = np.unique(keys, return_inverse=True)
    return dense.reshape(keys.shape + (1,)).astype(np.int64, copy=False)


def stored_slab_information(
    layer: str, start: int, stop: int, *, codes_path: str, activations_path: str, labels: np.ndarray, x_ids: np.ndarray, options: EstimateOptions
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The Dask task: read epochs [start, stop) of one layer (and the window's earlier epochs) from the stores, then measure."""
    from ibpipe.store import read_slab

    first = max(0, start - options.window + 1)
    codes = stored_state_ids(codes_path, layer, first, stop)
    wanted = needs(options.estimators, "activations") or bool(options.dimensions)
    activations = read_slab(activations_path, layer, "activation", first, stop) if wanted else None
    return slab_information(options, labels, x_ids, codes, activations, lead=start - first)


def stack_task_results(results: list, n_layers: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Join (points, intervals, states, dimensions) of layer-major, epoch-ordered tasks into (epoch, layer, ...) arrays."""

    def stack(parts):
        return np.stack(np.split(np.concatenate(parts), n_layers), axis=1)

    values = stack([result[0] for result in results])
    intervals = None if results[0][1] is None else stack([result[1] for result in results])
    return values, intervals, stack([result[2] for result in results]), stack([result[3] for result in results])


def drop_incomplete_windows(window: int, epochs: np.ndarray, *arrays: np.ndarray | None) -> tuple:
    """The first window - 1 epochs have no full window: leave them out of ``epochs`` and every (epoch, ...) array."""
    keep = slice(window - 1, None)
    return (np.asarray(epochs)[keep], *(None if array is None else array[keep] for array in arrays))


def metrics_dataset(
    values: np.ndarray,
    intervals: np.ndarray | None,
    epochs: Sequence[int],
    widths: Mapping[str, int],
    options: EstimateOptions,
    labels: np.ndarray,
    x_ids: np.ndarray,
    attrs: Mapping[str, Any],
    states: np.ndarray | None = None,
    code_widths: Mapping[str, int] | None = None,
    dimensions: np.ndarray | None = None,
) -> xr.Dataset:
    """Label (epoch, layer, estimator, quantity[, bound]) arrays of bits as the metrics Dataset.

    ``widths`` are the layers' units; ``code_widths`` the columns left after reduction
    (pooling); ``states`` (epoch, layer) the distinct code rows, stored with their ratio to
    the rows measured (N, or w x N with a window) so saturation shows.
    """
    dims = ("epoch", "layer", "estimator")
    coords = {
        "epoch": ("epoch", np.asarray(epochs, dtype=np.int64), {"long_name": "training epoch (0 = initial weights)"}),
        "layer": ("layer", list(widths)),
        "estimator": ("estimator", list(options.estimators)),
        "layer_width": ("layer", np.asarray(list(widths.values()), dtype=np.int64), {"units": "unit"}),
    }
    data_vars = {}
    for position, quantity in enumerate(QUANTITIES):
        data_vars[quantity] = (dims, values[..., position], {"units": "bit", "long_name": QUANTITY_NAMES[quantity]})
        if intervals is not None:
            data_vars[f"{quantity}_ci"] = (
                dims + ("bound",),
                intervals[..., position, :],
                {"units": "bit", "long_name": f"bootstrap {options.bootstrap_level:.0%} percentile interval of {quantity}"},
            )
    if intervals is not None:
        coords["bound"] = ("bound", list(BOUNDS))
    if code_widths is not None:
        coords["code_width"] = ("layer", np.asarray([code_widths[layer] for layer in widths], dtype=np.int64), {"units": "unit", "long_name": "code columns after pooling"})
    if states is not None:
        n_rows = len(labels) * options.window
        data_vars["n_states"] = (("epoch", "layer"), states, {"units": "state", "long_name": "distinct states of the layer's codes"})
        data_vars["state_ratio"] = (("epoch", "layer"), states / n_rows, {"units": "1", "long_name": f"distinct states / rows measured ({n_rows}); 1 = saturated"})
    for position, name in enumerate(options.dimensions if dimensions is not None else ()):
        label = "correlation (Grassberger-Procaccia) dimension" if name == "corrdim" else "TwoNN nearest-neighbour dimension"
        data_vars[DIMENSION_NAMES[name]] = (("epoch", "layer"), dimensions[..., position], {"units": "1", "long_name": f"{label} of the raw activations"})
    dataset = xr.Dataset(data_vars, coords=coords)
    dataset.attrs.update(
        {
            "H_X": entropy_bits(x_ids),
            "H_Y": entropy_bits(labels),
            "entropy_units": "bit",
            "n_samples": len(labels),
            "inputs_unique": int(len(np.unique(x_ids)) == len(x_ids)),
            "noise_variance": options.noise_variance,
            "n_neighbors": options.n_neighbors,
            "bootstrap_resamples": options.bootstrap_resamples,
            "bootstrap_level": options.bootstrap_level,
            "window": options.window,
            "window_note": "epoch e is measured on the window of measured epochs ending at e" if options.window > 1 else "",
            "estimator_references": "; ".join(f"{name}: {ESTIMATORS[name].reference}" for name in options.estimators),
            **attrs,
        }
    )
    return dataset


def metrics_summary(metrics: xr.Dataset) -> dict[str, Any]:
    """Last-epoch I(X;T) and I(T;Y) per estimator and layer, for ``dvc metrics show``."""
    last = metrics.isel(epoch=-1)
    summary: dict[str, Any] = {"epoch": int(last.epoch), "H_X": round(float(metrics.attrs["H_X"]), 5), "H_Y": round(float(metrics.attrs["H_Y"]), 5)}
    if "state_ratio" in metrics:
        summary["state_ratio"] = {layer: round(float(last.state_ratio.sel(layer=layer)), 5) for layer in metrics.layer.values.tolist()}
    for estimator in metrics.estimator.values.tolist():
        summary[estimator] = {
            layer: {q: round(float(last[q].sel(layer=layer, estimator=estimator)), 5) for q in ("I_XT", "I_TY")}
            for layer in metrics.layer.values.tolist()
        }
    return summary
