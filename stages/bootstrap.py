"""DVC stage `bootstrap`: a reference one-hidden-layer net and B replicas on bootstrap resamples, aligned to it.

Replicas train on Dask workers (one thread each). Output data/bootstrap.nc: the reference's
layers, the aligned replicas' layers (dim replica) and the alignment quality per replica and neuron.
"""

from pathlib import Path

import numpy as np
import xarray as xr

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.neurons import NeuronsBootstrapParams
from ibpipe.data.datasets import load_dataset
from ibpipe.io.files import write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.network import layer_arrays
from ibpipe.neurons.replicas import NetSettings, align_replicas, initial_state, replica_arrays, train_net
from ibpipe.parallel import dask_client, run_tasks

LAYER_DIMS = {"w_in": ("neuron", "input"), "b_in": ("neuron",), "w_out": ("class", "neuron"), "b_out": ("class",)}


def main(params_file: Path = Path("params.yaml"), out: Path = Path("data/bootstrap.nc")) -> None:
    (choice,) = load_sections(params_file, NeuronsBootstrapParams)
    data = load_dataset(choice.dataset, choice.test_fraction, choice.split_seed)
    inputs = data.inputs.reshape(len(data.inputs), -1)
    train_x, train_y = inputs[data.train_rows], data.labels[data.train_rows]
    settings = NetSettings.from_params(choice)
    start = initial_state(train_x.shape[1], data.n_classes, settings)
    reference = layer_arrays(train_net(train_x, train_y, settings, start))
    shared = {
        "inputs": train_x,
        "labels": train_y,
        "settings": settings,
        "shared_start": start if choice.init == "same" else None,
    }
    with dask_client(choice.scheduler, choice.workers) as client:
        replicas = run_tasks(client, replica_arrays, [(r,) for r in range(choice.replicas)], shared, "bootstrap")
    aligned = align_replicas(reference, replicas, train_x, choice.activation, choice.align)
    variables = {f"reference_{name}": (dims, value) for (name, dims), value in zip(LAYER_DIMS.items(), reference)}
    variables.update({f"replica_{name}": (("replica", *dims), aligned[name]) for name, dims in LAYER_DIMS.items()})
    variables["alignment_quality"] = (
        ("replica", "neuron"),
        aligned["quality"],
        {"long_name": f"matched correlation with the reference neuron ({choice.align})"},
    )
    dataset = xr.Dataset(variables, coords={"replica": np.arange(choice.replicas), "neuron": np.arange(choice.hidden)})
    dataset.attrs.update({"dataset": choice.dataset, "activation": choice.activation, "params": sections_json(choice)})
    write_metrics(out, dataset)


if __name__ == "__main__":
    run_stage(main)
