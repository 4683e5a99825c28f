"""DVC stage `plot-compression`: neuron ellipses, accuracy against parameters for both metrics, alignment quality."""

from pathlib import Path

from ibpipe.config.checks import load_sections
from ibpipe.config.plot import PlotParams
from ibpipe.io.files import open_netcdf, write_figures
from ibpipe.io.stage import run_stage
from ibpipe.neurons.plots import accuracy_against_parameters, alignment_quality, neuron_ellipses


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    neurons: Path = Path("data/neurons.nc"),
    compression: Path = Path("reports/compression.nc"),
    out: Path = Path("reports/compression_figures"),
) -> None:
    (plot,) = load_sections(params_file, PlotParams)
    figures = {
        "neuron_ellipses": neuron_ellipses(open_netcdf(neurons)),
        "accuracy_against_parameters": accuracy_against_parameters(open_netcdf(compression)),
        "alignment_quality": alignment_quality(open_netcdf(bootstrap)),
    }
    write_figures(out, figures, plot.dpi)


if __name__ == "__main__":
    run_stage(main)
