"""DVC stage `plot-ae`: the autoencoder entropy curves with their bends, MSE and the codes' dimension."""

from pathlib import Path

from ibpipe.ae_entropy.plots import ae_entropy_curves
from ibpipe.config.plot import PlotParams
from ibpipe.io.files import open_netcdf, write_figures
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    curves: Path = Path("reports/ae_entropy.nc"),
    out: Path = Path("reports/ae_figures"),
) -> None:
    (plot,) = load_sections(params_file, PlotParams)
    write_figures(out, {"ae_entropy": ae_entropy_curves(open_netcdf(curves))}, plot.dpi)


if __name__ == "__main__":
    run_stage(main)
