"""DVC stage `plot`: information planes, information over epochs and training curves as PNGs."""

from pathlib import Path

from ibpipe import plots, store
from ibpipe.config import load_params
from ibpipe.stage import run_stage


def main(
    params_file: Path = Path("params.yaml"),
    metrics: Path = Path("reports/metrics.nc"),
    ae_entropy: Path = Path("reports/ae_entropy.nc"),
    weights: Path = Path("data/weights.zarr"),
    selection: Path = Path("data/selection.json"),
    out: Path = Path("reports/figures"),
) -> None:
    params = load_params(params_file)
    dataset = store.open_metrics(metrics)
    figures = {
        "training_curves": plots.training_curves(store.open_history(weights)),
        "selection": plots.selection_overview(store.read_json(selection)),
    }
    for estimator in dataset.estimator.values.tolist():
        figures[f"information_plane_{estimator}"] = plots.information_plane(dataset, estimator)
        figures[f"information_over_epochs_{estimator}"] = plots.information_over_epochs(dataset, estimator)
    layer = plots.default_comparison_layer(dataset) if params.plot.compare_layer == "auto" else params.plot.compare_layer
    if layer not in dataset.layer.values:
        raise ValueError(f"plot.compare_layer = {layer!r} is not a measured layer; layers are {', '.join(dataset.layer.values.tolist())}")
    figures["estimator_comparison"] = plots.estimator_comparison(dataset, layer)
    if "state_ratio" in dataset:
        figures["state_saturation"] = plots.state_saturation(dataset)
    if "corrdim" in dataset or "nn_dim" in dataset:
        figures["dimension_over_epochs"] = plots.dimension_over_epochs(dataset)
    figures["ae_entropy"] = plots.ae_entropy_curves(store.open_netcdf(ae_entropy))
    store.write_figures(out, figures, params.plot.dpi)


if __name__ == "__main__":
    run_stage(main)
