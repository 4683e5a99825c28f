"""DVC stage `plot-compression`: neuron ellipses, score against parameters for both metrics, alignment quality,
and for a series task the neurons in the plane of the input's fundamental."""

from pathlib import Path

from ibpipe.config.plot import PlotParams
from ibpipe.io.files import open_netcdf, write_figures
from ibpipe.io.stage import run_stage
from ibpipe.neurons.plots import accuracy_against_parameters, alignment_quality, neuron_circle, neuron_ellipses
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    neurons: Path = Path("data/neurons.nc"),
    compression: Path = Path("reports/compression.nc"),
    out: Path = Path("reports/compression_figures"),
) -> None:
    (plot,) = load_sections(params_file, PlotParams)
    curves = open_netcdf(compression)
    figures = {
        "neuron_ellipses": neuron_ellipses(open_netcdf(neurons)),
        "accuracy_against_parameters": accuracy_against_parameters(curves),
        "alignment_quality": alignment_quality(open_netcdf(bootstrap)),
    }
    if "circle_reference" in curves:
        figures["neuron_circle"] = neuron_circle(curves)
    write_figures(out, figures, plot.dpi)


if __name__ == "__main__":
    run_stage(main)
