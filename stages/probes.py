"""DVC stage `probes`: linear probe accuracy, usable information and class separation per (epoch, layer).

Writes its own netCDF (reports/probes.nc, dims epoch x layer) beside reports/metrics.nc, so
that changing the probes reruns neither estimate nor anything upstream; plot-probes merges both.
"""

from pathlib import Path

import numpy as np

from ibpipe.config.probes import ProbesParams
from ibpipe.infoplane.layer_probes import probe_layers, probe_split, spread_positions
from ibpipe.io.files import write_metrics
from ibpipe.io.layers import layer_names, open_layer_store
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    activations: Path = Path("data/activations.zarr"),
    out: Path = Path("reports/probes.nc"),
) -> None:
    (choice,) = load_sections(params_file, ProbesParams)
    root = open_layer_store(activations)
    labels = np.asarray(root["labels"][...])
    measured = np.asarray(root["epoch"][...])
    positions = spread_positions(len(measured), choice.max_epochs)
    split = probe_split(labels, choice.test_fraction, choice.seed, choice.separation_rows)
    probes = probe_layers(
        lambda layer, row: np.asarray(root[layer]["activation"][positions[row]]),
        layer_names(root),
        measured[positions].tolist(),
        labels,
        split,
        choice.l2_c,
        choice.max_iter,
    )
    probes.attrs["params"] = sections_json(choice, upstream=root.attrs.get("params"))
    write_metrics(out, probes)


if __name__ == "__main__":
    run_stage(main)
