"""DVC stage `bootstrap`: a reference one-hidden-layer net and B replicas on bootstrap resamples, aligned to it.

Replicas train on Dask workers (one thread each). Output data/bootstrap.nc: the reference's
layers, the aligned replicas' layers (dim replica) and the alignment quality per replica and neuron.
"""

from pathlib import Path

import numpy as np
import xarray as xr

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.neural_compression import layer_arrays
from ibpipe.neuron_experiment import NetSettings, align_replicas, initial_state, replica_arrays, train_net
from ibpipe.parallel import dask_client, run_tasks
from ibpipe.stage import run_stage

LAYER_DIMS = {"w_in": ("neuron", "input"), "b_in": ("neuron",), "w_out": ("class", "neuron"), "b_out": ("class",)}


def main(params_file: Path = Path("params.yaml"), out: Path = Path("data/bootstrap.nc")) -> None:
    params = load_params(params_file)
    choice = params.neurons
    data = choice.load()
    inputs = data.inputs.reshape(len(data.inputs), -1)
    train_x, train_y = inputs[data.train_rows], data.labels[data.train_rows]
    settings = NetSettings(choice.hidden, choice.activation, choice.epochs, choice.learning_rate, choice.seed)
    start = initial_state(train_x.shape[1], data.n_classes, settings)
    reference = layer_arrays(train_net(train_x, train_y, settings, start))
    shared = {"inputs": train_x, "labels": train_y, "settings": settings, "shared_start": start if choice.init == "same" else None}
    with dask_client(choice.scheduler, choice.workers) as client:
        replicas = run_tasks(client, replica_arrays, [(r,) for r in range(choice.replicas)], shared, "bootstrap")
    aligned = align_replicas(reference, replicas, train_x, choice.activation, choice.align)
    variables = {f"reference_{name}": (dims, value) for (name, dims), value in zip(LAYER_DIMS.items(), reference)}
    variables.update({f"replica_{name}": (("replica", *dims), aligned[name]) for name, dims in LAYER_DIMS.items()})
    variables["alignment_quality"] = (("replica", "neuron"), aligned["quality"], {"long_name": f"matched correlation with the reference neuron ({choice.align})"})
    dataset = xr.Dataset(variables, coords={"replica": np.arange(choice.replicas), "neuron": np.arange(choice.hidden)})
    dataset.attrs.update({"dataset": choice.dataset, "activation": choice.activation, "params": params.to_json()})
    store.write_metrics(out, dataset)


if __name__ == "__main__":
    run_stage(main)
