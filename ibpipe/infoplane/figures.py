"""The plot stage's figure set: information planes, H(T) and the informations over epochs, I(T;Y) against its
ceiling H(Y), training curves, and the per-epoch information curves for `dvc plots show` / `dvc plots diff`."""

from __future__ import annotations

from typing import Any

import xarray as xr
from matplotlib.figure import Figure

from ibpipe.errors import InputError
from ibpipe.infoplane.lagrangian import ib_lagrangian
from ibpipe.infoplane.plot_data import information_rows, main_estimator
from ibpipe.infoplane.plots import (
    default_comparison_layer,
    dimension_over_epochs,
    estimator_comparison,
    information_ceiling,
    information_over_epochs,
    information_plane,
    lagrangian_over_epochs,
    selection_overview,
    state_saturation,
    training_curves,
)


def report_figures(
    metrics: xr.Dataset, history: xr.Dataset, selection: dict, plot: Any
) -> tuple[dict[str, Figure], list[dict[str, Any]]]:
    """({name: figure}, information curve rows) of a run, as the validated ``plot`` section asks.

    Several splits or an ablation (named reductions) give figures per split and reduction, suffixed with
    the names; the comparisons and the curve rows use the first of them.
    """
    figures = {"training_curves": training_curves(history), "selection": selection_overview(selection)}
    facets = {"": metrics}
    for dim in ("split", "reduction"):
        if dim in metrics.dims:
            facets = {f"{key}_{v}": facet.sel({dim: v}) for key, facet in facets.items() for v in metrics[dim].values}
    for suffix, facet in facets.items():
        for estimator in metrics.estimator.values.tolist():
            figures[f"information_plane_{estimator}{suffix}"] = information_plane(facet, estimator)
            figures[f"information_over_epochs_{estimator}{suffix}"] = information_over_epochs(facet, estimator)
    first = next(iter(facets.values()))
    layer = default_comparison_layer(first) if plot.compare_layer == "auto" else plot.compare_layer
    if layer not in first.layer.values:
        raise InputError(
            f"plot.compare_layer = {layer!r} is not a measured layer; "
            f"layers are {', '.join(first.layer.values.tolist())}"
        )
    figures["estimator_comparison"] = estimator_comparison(first, layer)
    figures["information_ceiling"] = information_ceiling(first, main_estimator(first))
    if "state_ratio" in first:
        figures["state_saturation"] = state_saturation(first)
    if "corrdim" in first or "nn_dim" in first:
        figures["dimension_over_epochs"] = dimension_over_epochs(first)
    estimator = main_estimator(first)
    figures["ib_lagrangian"] = lagrangian_over_epochs(
        ib_lagrangian(first.sel(estimator=estimator), plot.betas), estimator
    )
    return figures, information_rows(first, estimator)
