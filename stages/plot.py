"""DVC stage `plot`: information planes, information over epochs and training curves as PNGs, and the
per-epoch information curves as a JSON data file for `dvc plots show` / `dvc plots diff`."""

from pathlib import Path

from ibpipe.config.plot import PlotParams
from ibpipe.infoplane.figures import report_figures
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
    figures, rows = report_figures(open_metrics(metrics), open_history(weights), read_json(selection), plot)
    write_figures(out, figures, plot.dpi)
    write_json(curves, rows)


if __name__ == "__main__":
    run_stage(main, outputs=("out", "curves"))
