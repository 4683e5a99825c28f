"""DVC stage `plot-probes`: probe accuracy per layer over epochs, and class separation under I(X;T).

Also the one place the probe variables meet the metrics: reports/probe_figures/metrics_with_probes.nc
is reports/metrics.nc with probe_accuracy, usable_information and class_separation merged in
(NaN at epochs the probes skipped).
"""

from pathlib import Path

import xarray as xr

from ibpipe.config.plot import PlotParams
from ibpipe.infoplane.seeing_plots import probe_accuracy_figure, separation_under_information
from ibpipe.io.files import atomic_path, open_metrics, open_netcdf
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    metrics: Path = Path("reports/metrics.nc"),
    probes: Path = Path("reports/probes.nc"),
    out: Path = Path("reports/probe_figures"),
) -> None:
    (plot,) = load_sections(params_file, PlotParams)
    information, probe_results = open_metrics(metrics), open_netcdf(probes)
    estimator = str(information.estimator.values[0])
    figures = {
        "probe_accuracy": probe_accuracy_figure(probe_results),
        # probes measure trial 0's activations (the store's root groups), so its I(X;T) sits beside them
        "class_separation": separation_under_information(
            information.sel(trial=0, drop=True) if "trial" in information.dims else information,
            probe_results,
            estimator,
        ),
    }
    with atomic_path(out) as temporary:
        temporary.mkdir()
        for name, figure in figures.items():
            figure.savefig(temporary / f"{name}.png", dpi=plot.dpi)
        merged = xr.merge([information, probe_results.drop_attrs()], join="left", combine_attrs="override")
        merged.to_netcdf(temporary / "metrics_with_probes.nc", engine="netcdf4")


if __name__ == "__main__":
    run_stage(main)
