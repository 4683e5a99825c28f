"""DVC stage `plot`: information planes, information over epochs and training curves as PNGs, and the
per-epoch information curves as a JSON data file for `dvc plots show` / `dvc plots diff`."""

from pathlib import Path

from ibpipe.config.plot import PlotParams
from ibpipe.errors import InputError
from ibpipe.infoplane.lagrangian import ib_lagrangian
from ibpipe.infoplane.plot_data import information_rows, main_estimator
from ibpipe.infoplane.plots import (
    default_comparison_layer,
    dimension_over_epochs,
    estimator_comparison,
    information_over_epochs,
    information_plane,
    lagrangian_over_epochs,
    selection_overview,
    state_saturation,
    training_curves,
)
from ibpipe.io.files import open_metrics, read_json, write_figures, write_json
from ibpipe.io.stage import run_stage
from ibpipe.io.weights import open_history
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    metrics: Path = Path("reports/metrics.nc"),
    weights: Path = Path("data/weights.zarr"),
    selection: Path = Path("data/selection.json"),
    out: Path = Path("reports/figures"),
    curves: Path = Path("reports/information_curves.json"),
) -> None:
    (plot,) = load_sections(params_file, PlotParams)
    dataset = open_metrics(metrics)
    figures = {
        "training_curves": training_curves(open_history(weights)),
        "selection": selection_overview(read_json(selection)),
    }
    # several splits or an ablation (named reductions): figures per split and reduction, suffixed with the names
    facets = {"": dataset}
    for dim in ("split", "reduction"):
        if dim in dataset.dims:
            facets = {f"{key}_{v}": facet.sel({dim: v}) for key, facet in facets.items() for v in dataset[dim].values}
    for suffix, facet in facets.items():
        for estimator in dataset.estimator.values.tolist():
            figures[f"information_plane_{estimator}{suffix}"] = information_plane(facet, estimator)
            figures[f"information_over_epochs_{estimator}{suffix}"] = information_over_epochs(facet, estimator)
    dataset = next(iter(facets.values()))
    layer = default_comparison_layer(dataset) if plot.compare_layer == "auto" else plot.compare_layer
    if layer not in dataset.layer.values:
        raise InputError(
            f"plot.compare_layer = {layer!r} is not a measured layer; "
            f"layers are {', '.join(dataset.layer.values.tolist())}"
        )
    figures["estimator_comparison"] = estimator_comparison(dataset, layer)
    if "state_ratio" in dataset:
        figures["state_saturation"] = state_saturation(dataset)
    if "corrdim" in dataset or "nn_dim" in dataset:
        figures["dimension_over_epochs"] = dimension_over_epochs(dataset)
    estimator = main_estimator(dataset)
    figures["ib_lagrangian"] = lagrangian_over_epochs(
        ib_lagrangian(dataset.sel(estimator=estimator), plot.betas), estimator
    )
    write_figures(out, figures, plot.dpi)
    write_json(curves, information_rows(dataset, estimator))


if __name__ == "__main__":
    run_stage(main)
