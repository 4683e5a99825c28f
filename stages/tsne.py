"""DVC stage `tsne`: t-SNE maps of every layer at chosen epochs, each started from the one before.

Output directory reports/tsne: grid.png (layers x epochs), sequence.gif (when asked and pillow
imports) and embeddings.nc (embedding: layer x step x row x component; epoch: layer x step).
"""

from pathlib import Path

import numpy as np
import typer
import xarray as xr

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.plot import PlotParams
from ibpipe.config.tsne import TsneParams
from ibpipe.errors import InputError
from ibpipe.infoplane.seeing_plots import tsne_grid, write_tsne_gif
from ibpipe.infoplane.tsne import embed_sequence, seeded_rows, sequence_epochs
from ibpipe.io.files import atomic_path, open_metrics
from ibpipe.io.layers import layer_names, open_layer_store
from ibpipe.io.stage import run_stage


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
        dataset = open_metrics(metrics)
        if tsne_params.peak_estimator not in dataset.estimator.values:
            raise InputError(
                f"tsne.peak_estimator = {tsne_params.peak_estimator!r} is not in {metrics}; "
                f"its estimators are {', '.join(dataset.estimator.values.tolist())}"
            )
        information = dataset["I_XT"].sel(estimator=tsne_params.peak_estimator).reindex(epoch=measured)
        for dim in ("split", "reduction", "trial"):  # the maps show trial 0's activations (the root groups)
            if dim in information.dims:
                information = information.isel({dim: 0}, drop=True)
    rows = seeded_rows(root["labels"].shape[0], tsne_params.n_rows, tsne_params.seed)
    layers = layer_names(root)
    embeddings, epochs, names = [], [], []
    for layer in layers:
        curve = None if information is None else information.sel(layer=layer).values
        named = sequence_epochs(tsne_params.epochs, measured, curve)
        chosen = [epoch for _, epoch in named]
        positions = [int(np.flatnonzero(measured == epoch)[0]) for epoch in chosen]
        maps = [np.asarray(root[layer]["activation"][position])[rows] for position in positions]
        embeddings.append(
            embed_sequence(
                maps,
                tsne_params.perplexity,
                tsne_params.n_iter,
                tsne_params.n_iter_next,
                tsne_params.dimensions,
                tsne_params.seed,
                tsne_params.n_jobs,
            )
        )
        epochs.append(chosen)
        names.append([name for name, _ in named])
    result = xr.Dataset(
        {
            "embedding": (("layer", "step", "row", "component"), np.stack(embeddings)),
            "epoch": (("layer", "step"), np.asarray(epochs, dtype=np.int64)),
            "label": (("row",), np.asarray(root["labels"][...])[rows]),
            "sample": (("row",), np.asarray(root["sample"][...])[rows]),
            "step_name": (("layer", "step"), np.asarray(names, dtype=str)),
        },
        coords={"layer": layers},
        attrs={"params": sections_json(tsne_params, upstream=root.attrs.get("params"))},
    )
    with atomic_path(out) as temporary:
        temporary.mkdir()
        result.to_netcdf(temporary / "embeddings.nc", engine="netcdf4")
        tsne_grid(result).savefig(temporary / "grid.png", dpi=plot.dpi)
        if tsne_params.gif and not write_tsne_gif(result, temporary / "sequence.gif", plot.dpi):
            typer.echo("tsne: pillow is not installed, so sequence.gif is skipped (pip install pillow)", err=True)


if __name__ == "__main__":
    run_stage(main)
