"""DVC stage `tsne`: t-SNE maps of every layer at chosen epochs, each started from the one before.

Output directory reports/tsne: grid.png (layers x epochs), sequence.gif (when asked and pillow
imports) and embeddings.nc (embedding: layer x step x row x component; epoch: layer x step).
"""

from pathlib import Path

import numpy as np
import typer

from ibpipe.config.plot import PlotParams
from ibpipe.config.tsne import TsneParams
from ibpipe.infoplane.seeing_plots import tsne_grid, write_tsne_gif
from ibpipe.infoplane.tsne import peak_curves, tsne_maps
from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.files import atomic_path, open_metrics
from ibpipe.io.layers import open_layer_store
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    activations: Path = Path("data/activations.zarr"),
    metrics: Path = Path("reports/metrics.nc"),
    out: Path = Path("reports/tsne"),
) -> None:
    tsne_params, plot = load_sections(params_file, TsneParams, PlotParams)
    root = open_layer_store(activations)
    measured = np.asarray(root["epoch"][...])
    information = None
    if "peak" in tsne_params.epochs:
        information = peak_curves(open_metrics(metrics), tsne_params.peak_estimator, measured)
    result = tsne_maps(root, tsne_params, information)
    result.attrs[PARAMS_ATTR] = sections_json(tsne_params, upstream=root.attrs.get(PARAMS_ATTR))
    with atomic_path(out) as temporary:
        temporary.mkdir()
        result.to_netcdf(temporary / "embeddings.nc", engine="netcdf4")
        tsne_grid(result).savefig(temporary / "grid.png", dpi=plot.dpi)
        if tsne_params.gif and not write_tsne_gif(result, temporary / "sequence.gif", plot.dpi):
            typer.echo("tsne: pillow is not installed, so sequence.gif is skipped (pip install pillow)", err=True)


if __name__ == "__main__":
    run_stage(main)
