"""The metrics Dataset (dims epoch, layer, estimator) and its compact JSON summary for `dvc metrics show`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
from ibpipe.estimators.plugin import entropy_bits
from ibpipe.estimators.registry import ESTIMATORS, QUANTITIES
from ibpipe.infoplane.measure import EstimateOptions

QUANTITY_NAMES = {
    "H_T": "entropy of the layer H(T)",
    "I_XT": "mutual information between input and layer I(X;T)",
    "I_TY": "mutual information between layer and label I(T;Y)",
}


BOUNDS = ("lower", "upper")


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
    capped: np.ndarray | None = None,
) -> xr.Dataset:
    """Label (epoch, layer, estimator, quantity[, bound]) arrays of bits as the metrics Dataset.

    ``widths`` are the layers' units; ``code_widths`` the columns left after reduction
    (pooling); ``states`` (epoch, layer) the distinct code rows, stored with their ratio to
    the rows measured (N, or w x N with a window) so saturation shows; ``capped`` (epoch,
    layer, estimator) how many of I(X;T), I(T;Y) were clipped to [0, H(X)] or [0, H(Y)].
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
                (*dims, "bound"),
                intervals[..., position, :],
                {
                    "units": "bit",
                    "long_name": (
                        f"bootstrap {options.bootstrap_level:.0%} {options.bootstrap_method} interval of {quantity}"
                    ),
                },
            )
    if intervals is not None:
        coords["bound"] = ("bound", list(BOUNDS))
    if capped is not None:
        data_vars["capped"] = (
            dims,
            np.asarray(capped, dtype=np.int64),
            {
                "units": "quantity",
                "long_name": "informations of the cell clipped to a ceiling: I(X;T) to [0, H(X)], I(T;Y) to [0, H(Y)]",
            },
        )
    if code_widths is not None:
        coords["code_width"] = (
            "layer",
            np.asarray([code_widths[layer] for layer in widths], dtype=np.int64),
            {"units": "unit", "long_name": "code columns after pooling"},
        )
    data_vars.update(_per_layer_vars(states, dimensions, len(labels) * options.window, options))
    dataset = xr.Dataset(data_vars, coords=coords)
    dataset.attrs.update(_run_attrs(labels, x_ids, options, attrs))
    return dataset


def _per_layer_vars(
    states: np.ndarray | None, dimensions: np.ndarray | None, n_rows: int, options: EstimateOptions
) -> dict[str, tuple]:
    """The (epoch, layer) variables: distinct states and their ratio to ``n_rows``, intrinsic dimensions."""
    data_vars = {}
    if states is not None:
        data_vars["n_states"] = (
            ("epoch", "layer"),
            states,
            {"units": "state", "long_name": "distinct states of the layer's codes"},
        )
        data_vars["state_ratio"] = (
            ("epoch", "layer"),
            states / n_rows,
            {"units": "1", "long_name": f"distinct states / rows measured ({n_rows}); 1 = saturated"},
        )
    for position, name in enumerate(options.dimensions if dimensions is not None else ()):
        label = (
            "correlation (Grassberger-Procaccia) dimension"
            if name == "corrdim"
            else "TwoNN nearest-neighbour dimension"
        )
        data_vars[DIMENSION_ESTIMATORS[name].variable] = (
            ("epoch", "layer"),
            dimensions[..., position],
            {"units": "1", "long_name": f"{label} of the raw activations"},
        )
    return data_vars


def _run_attrs(
    labels: np.ndarray, x_ids: np.ndarray, options: EstimateOptions, attrs: Mapping[str, Any]
) -> dict[str, Any]:
    """The Dataset's attributes: source entropies, sample facts, estimate options, references, then ``attrs``."""
    return {
        "H_X": entropy_bits(x_ids),
        "H_Y": entropy_bits(labels),
        "entropy_units": "bit",
        "n_samples": len(labels),
        "inputs_unique": int(len(np.unique(x_ids)) == len(x_ids)),
        "noise_variance": options.noise_variance,
        "n_neighbors": options.n_neighbors,
        "bootstrap_resamples": options.bootstrap_resamples,
        "bootstrap_level": options.bootstrap_level,
        "bootstrap_method": options.bootstrap_method,
        "noise_draws": options.noise_draws,
        "renyi_alpha": options.renyi_alpha,
        "renyi_batch_size": min(options.renyi_batch, len(labels) * options.window),
        "window": options.window,
        "window_note": "epoch e is measured on the window of measured epochs ending at e" if options.window > 1 else "",
        "estimator_references": "; ".join(f"{name}: {ESTIMATORS[name].reference}" for name in options.estimators),
        **attrs,
    }


def metrics_summary(metrics: xr.Dataset) -> dict[str, Any]:
    """Last-epoch I(X;T) and I(T;Y) per layer of the main estimator (plugin when measured) and the compression
    verdicts (``compression``: see ``ibpipe.infoplane.compression``), for ``dvc metrics show``.

    Kept small enough to read (3 + 2 x layers columns plus one verdict per layer); every estimator, epoch
    and the saturation of the codes stay in metrics.nc. With a ``trial`` dim the values are trial means;
    with ``split`` or ``reduction`` dims those of the first split and reduction (the verdicts cover all).
    """
    from ibpipe.infoplane.compression import compression_summary

    last = metrics.isel(epoch=-1)
    if "trial" in last.dims:
        last = last.mean("trial", keep_attrs=True)
    for dim in ("split", "reduction"):
        if dim in last.dims:
            last = last.isel({dim: 0})
    estimators = metrics.estimator.values.tolist()
    estimator = "plugin" if "plugin" in estimators else estimators[0]
    return {
        "epoch": int(last.epoch),
        "H_X": round(float(metrics.attrs["H_X"]), 5),
        "H_Y": round(float(metrics.attrs["H_Y"]), 5),
        estimator: {
            layer: {q: round(float(last[q].sel(layer=layer, estimator=estimator)), 5) for q in ("I_XT", "I_TY")}
            for layer in metrics.layer.values.tolist()
        },
        "compression": compression_summary(metrics),
    }
