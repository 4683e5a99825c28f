"""DVC stage `plot-compression`: neuron ellipses, accuracy against parameters for both metrics, alignment quality."""

from pathlib import Path

from ibpipe import plots, store
from ibpipe.config import load_params
from ibpipe.stage import run_stage


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    neurons: Path = Path("data/neurons.nc"),
    compression: Path = Path("reports/compression.nc"),
    out: Path = Path("reports/compression_figures"),
) -> None:
    params = load_params(params_file)
    figures = {
        "neuron_ellipses": plots.neuron_ellipses(store.open_netcdf(neurons)),
        "accuracy_against_parameters": plots.accuracy_against_parameters(store.open_netcdf(compression)),
        "alignment_quality": plots.alignment_quality(store.open_netcdf(bootstrap)),
    }
    store.write_figures(out, figures, params.plot.dpi)


if __name__ == "__main__":
    run_stage(main)
