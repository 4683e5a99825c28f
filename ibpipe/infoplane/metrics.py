"""The metrics Dataset (dims epoch, layer, estimator), its DVC metric (metrics.json) and its summary for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
from ibpipe.estimators.plugin import entropy_bits
from ibpipe.estimators.registry import ESTIMATORS, QUANTITIES
from ibpipe.names import OUTPUT_LAYER

DIMENSION_NAMES = {
    "corrdim": "correlation (Grassberger-Procaccia) dimension",
    "twonn": "TwoNN nearest-neighbour dimension",
}
QUANTITY_NAMES = {
    "H_T": "entropy of the layer H(T)",
    "I_XT": "mutual information between input and layer I(X;T)",
    "I_TY": "mutual information between layer and label I(T;Y)",
}


def metrics_dataset(
    measures: xr.Dataset,
    params: Any,
    labels: np.ndarray,
    x_ids: np.ndarray,
    splits: Mapping[str | None, np.ndarray | None],
    attrs: Mapping[str, Any],
) -> xr.Dataset:
    """The combined measures with units and long names, the state ratio and the run's attrs.

    ``measures``: (epoch, layer, estimator[, bound], [split, reduction,] trial) in bits, with
    ``n_states`` (the distinct code rows), stored with their ratio to the rows measured (N, or
    w x N with a window, per split) so saturation shows. ``splits``: {split: sample positions}
    ({None: None}: every sample); the attrs H_X, H_Y, n_samples are the first split's, and with
    splits ``H_X``, ``H_Y`` are also variables over ``split``.
    """
    order = [dim for dim in ("split", "reduction", "trial") if dim in measures.dims]
    metrics = measures.transpose("epoch", "layer", "estimator", ..., *order)
    rows = {split: len(labels) if positions is None else len(positions) for split, positions in splits.items()}
    per_split = [count * params.window for count in rows.values()]
    ratio = xr.DataArray(per_split, coords={"split": list(rows)}) if "split" in metrics.dims else per_split[0]
    metrics["state_ratio"] = metrics["n_states"] / ratio
    for name, variable_attrs in _variable_attrs(params, per_split[0]).items():
        if name in metrics.variables:
            metrics[name].attrs.update(variable_attrs)
    first = next(iter(splits.values()))
    subset = slice(None) if first is None else first
    if "split" in metrics.dims:
        for name, sources in (("H_X", x_ids), ("H_Y", labels)):
            values = np.asarray([entropy_bits(sources[positions]) for positions in splits.values()])
            metrics[name] = ("split", values, {"units": "bit", "long_name": f"{name} of each split"})
    metrics.attrs = _run_attrs(labels[subset], x_ids[subset], params, attrs)
    return metrics


def _variable_attrs(params: Any, n_rows: int) -> dict[str, dict[str, str]]:
    """The units and long name of each variable and coordinate the metrics may hold."""
    interval = f"bootstrap {params.bootstrap_level:.0%} {params.bootstrap_method} interval of"
    named = {quantity: ("bit", QUANTITY_NAMES[quantity]) for quantity in QUANTITIES}
    named.update({f"{quantity}_ci": ("bit", f"{interval} {quantity}") for quantity in QUANTITIES})
    named["capped"] = (
        "quantity",
        "informations of the cell clipped to a ceiling: I(X;T) to [0, H(X)], I(T;Y) to [0, H(Y)]",
    )
    named["n_states"] = ("state", "distinct states of the layer's codes")
    named["state_ratio"] = ("1", f"distinct states / rows measured ({n_rows}); 1 = saturated")
    for name, info in DIMENSION_ESTIMATORS.items():
        label = DIMENSION_NAMES.get(name, name)
        named[info.variable] = ("1", f"{label} of the raw activations")
    named["code_width"] = ("unit", "code columns after pooling")
    attrs = {name: {"units": units, "long_name": long_name} for name, (units, long_name) in named.items()}
    return {**attrs, "layer_width": {"units": "unit"}, "epoch": {"long_name": "training epoch (0 = initial weights)"}}


def _run_attrs(labels: np.ndarray, x_ids: np.ndarray, params: Any, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The Dataset's attributes: source entropies, sample facts, every scalar setting of the estimate section
    (lists such as the estimators are the Dataset's coordinates), references, then ``attrs``."""
    settings = {name: value for name, value in vars(params).items() if isinstance(value, int | float | str)}
    return {
        "H_X": entropy_bits(x_ids),
        "H_Y": entropy_bits(labels),
        "entropy_units": "bit",
        "n_samples": len(labels),
        "inputs_unique": int(len(np.unique(x_ids)) == len(x_ids)),
        **settings,
        # the batch renyi used (no larger than the rows measured)
        "renyi_batch_size": min(params.renyi_batch, len(labels) * params.window),
        "window_note": "epoch e is measured on the window of measured epochs ending at e" if params.window > 1 else "",
        "estimator_references": "; ".join(f"{name}: {ESTIMATORS[name].reference}" for name in params.estimators),
        **attrs,
    }


def last_hidden_layer(layers: list[str]) -> str:
    """The layer whose compression a study compares: the last one before the read-out (the last, without one)."""
    hidden = [layer for layer in layers if layer != OUTPUT_LAYER]
    return (hidden or layers)[-1]


def metrics_summary(metrics: xr.Dataset) -> dict[str, Any]:
    """The DVC metric of the information plane (reports/metrics.json): the last hidden layer's final/peak
    I(X;T) (mean over trials) and its verdict code (``compress``, ``none``, ``unclear``: see
    ``ibpipe.infoplane.compression``), e.g. ``{"hidden5": {"final_to_peak": 0.45, "verdict": "unclear"}}``.

    Two flat columns, so that `dvc metrics show` and `dvc exp show` fit a terminal beside the other
    experiments' files; with ``split`` or ``reduction`` dims one pair per split and reduction, keyed by
    their names. Every layer, estimator and epoch stays in metrics.nc; ``information_summary`` gives the
    table `python -m ibpipe summary` prints.
    """
    from ibpipe.infoplane.compression import compression_summary

    return _last_layer_verdicts(compression_summary(metrics), last_hidden_layer(metrics.layer.values.tolist()))


def _last_layer_verdicts(summary: dict[str, Any], layer: str) -> dict[str, Any]:
    for dim in ("split", "reduction"):
        if dim in summary:
            return {name: _last_layer_verdicts(inner, layer) for name, inner in summary[dim].items()}
    cell = summary["layers"][layer]
    ratio = cell["final_to_peak"][0]
    return {layer: {"final_to_peak": ratio if np.isfinite(ratio) else None, "verdict": cell["code"]}}


def information_summary(metrics: xr.Dataset) -> dict[str, Any]:
    """Last-epoch I(X;T) and I(T;Y) per layer of the main estimator (plugin when measured) and the compression
    summary of every layer (``compression``: see ``ibpipe.infoplane.compression``): what
    `python -m ibpipe summary` prints of the information plane.

    With a ``trial`` dim the values are trial means; with ``split`` or ``reduction`` dims those of the
    first split and reduction (the compression summary covers all).
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
        "estimator": estimator,
        "layers": {
            layer: {q: round(float(last[q].sel(layer=layer, estimator=estimator)), 5) for q in ("I_XT", "I_TY")}
            for layer in metrics.layer.values.tolist()
        },
        "compression": compression_summary(metrics),
    }
