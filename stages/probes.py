"""DVC stage `probes`: linear probe accuracy, usable information and class separation per (epoch, layer).

Writes its own netCDF (reports/probes.nc, dims epoch x layer) beside reports/metrics.nc, so
that changing the probes reruns neither estimate nor anything upstream; plot-probes merges both.
"""

from pathlib import Path

import numpy as np

from ibpipe.config.probes import ProbesParams
from ibpipe.infoplane.layer_probes import probe_layers, probe_split, spread_positions
from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.files import write_metrics
from ibpipe.io.layers import layer_names, open_layer_store
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    activations: Path = Path("data/activations.zarr"),
    out: Path = Path("reports/probes.nc"),
) -> None:
    (probes_params,) = load_sections(params_file, ProbesParams)
    root = open_layer_store(activations)
    labels = np.asarray(root["labels"][...])
    measured = np.asarray(root["epoch"][...])
    positions = spread_positions(len(measured), probes_params.max_epochs)
    split = probe_split(labels, probes_params.test_fraction, probes_params.seed, probes_params.separation_rows)
    probes = probe_layers(
        lambda layer, row: np.asarray(root[layer]["activation"][positions[row]]),
        layer_names(root),
        measured[positions].tolist(),
        labels,
        split,
        probes_params.l2_c,
        probes_params.max_iter,
    )
    probes.attrs[PARAMS_ATTR] = sections_json(probes_params, upstream=root.attrs.get(PARAMS_ATTR))
    write_metrics(out, probes)


if __name__ == "__main__":
    run_stage(main)
