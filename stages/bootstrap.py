"""DVC stage `bootstrap`: a reference network and B replicas on bootstrap resamples, aligned to it.

`neurons.bootstrap.source: own`: a one-hidden-layer net on `dataset` (classification, or the gait
series forecast). `pipeline`: the layer `layer` of the pipeline's trained network (from
data/neuron_source, written by `neuron-source`), its replicas trained like the pipeline's.
Replicas train on Dask workers (one thread each). Output data/bootstrap.nc: the reference's
layers, the aligned replicas' layers (dim replica) and the alignment quality per replica and neuron.
"""

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ibpipe.io.files import read_json, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.network import layer_arrays
from ibpipe.neurons.params import NeuronsBootstrapParams
from ibpipe.neurons.pipeline import (
    PipelineTraining,
    build_with,
    dense_layer_keys,
    layer_activations,
    layer_arrays_of,
    load_state,
    pipeline_replica_state,
    pipeline_rows,
)
from ibpipe.neurons.replicas import NetSettings, align_arrays, align_replicas, initial_state, replica_arrays, train_net
from ibpipe.neurons.tasks import load_task
from ibpipe.parallel import dask_client, run_tasks
from ibpipe.schema import load_sections, sections_json

LAYER_DIMS = {"w_in": ("neuron", "input"), "b_in": ("neuron",), "w_out": ("output", "neuron"), "b_out": ("output",)}


def main(
    params_file: Path = Path("params.yaml"),
    source: Path = Path("data/neuron_source"),
    out: Path = Path("data/bootstrap.nc"),
) -> None:
    (choice,) = load_sections(params_file, NeuronsBootstrapParams)
    if choice.source == "pipeline":
        reference, aligned, attrs = _pipeline_layer(choice, source)
    else:
        reference, aligned, attrs = _own_net(choice)
    variables = {f"reference_{name}": (dims, value) for (name, dims), value in zip(LAYER_DIMS.items(), reference)}
    variables.update({f"replica_{name}": (("replica", *dims), aligned[name]) for name, dims in LAYER_DIMS.items()})
    variables["alignment_quality"] = (
        ("replica", "neuron"),
        aligned["quality"],
        {"long_name": f"matched correlation with the reference neuron ({choice.align})"},
    )
    coords = {"replica": np.arange(choice.replicas), "neuron": np.arange(len(reference[1]))}
    dataset = xr.Dataset(variables, coords=coords)
    dataset.attrs.update({**attrs, "source": choice.source, "params": sections_json(choice)})
    write_metrics(out, dataset)


def _own_net(choice: NeuronsBootstrapParams):
    task = load_task(
        choice.dataset, choice.test_fraction, choice.split_seed, choice.window, choice.horizon, choice.series_length
    )
    settings = NetSettings.for_task(choice, loss=task.loss, n_out=task.n_out)
    start = initial_state(task.train_x.shape[1], task.n_out, settings)
    reference = layer_arrays(train_net(task.train_x, task.train_y, settings, start))
    shared = {
        "inputs": task.train_x,
        "labels": task.train_y,
        "settings": settings,
        "shared_start": start if choice.init == "same" else None,
    }
    with dask_client(choice.scheduler, choice.workers) as client:
        replicas = run_tasks(client, replica_arrays, [(r,) for r in range(choice.replicas)], shared, "bootstrap")
    aligned = align_replicas(reference, replicas, task.train_x, choice.activation, choice.align)
    return reference, aligned, {"dataset": choice.dataset, "activation": choice.activation, "task": task.kind}


def _pipeline_layer(choice: NeuronsBootstrapParams, source: Path):
    described = read_json(source / "source.json")
    spec, pipeline_params = described["model"], json.loads(described["params"])
    train_x, train_y = pipeline_rows(pipeline_params, "train")
    final, initial = load_state(source / "final"), load_state(source / "initial")
    model = build_with(spec, final)
    keys = dense_layer_keys(model, spec, choice.layer)
    training = PipelineTraining(
        **{name: pipeline_params["train"][name] for name in ("epochs", "batch_size", "learning_rate", "seed")}
    )
    shared = {
        "spec": spec,
        "inputs": train_x,
        "labels": train_y,
        "training": training,
        "shared_start": initial if choice.init == "same" else None,
    }
    with dask_client(choice.scheduler, choice.workers) as client:
        states = run_tasks(client, pipeline_replica_state, [(r,) for r in range(choice.replicas)], shared, "bootstrap")
    reference = layer_arrays_of(final, keys)
    activation = spec.get("activation", "relu") if spec["arch"] == "mlp" else "relu"
    reference_hidden = layer_activations(model, choice.layer, train_x) if choice.align == "activations" else None
    replica_hidden = [
        layer_activations(build_with(spec, state), choice.layer, train_x) if choice.align == "activations" else None
        for state in states
    ]
    aligned = align_arrays(
        reference,
        [layer_arrays_of(state, keys) for state in states],
        reference_hidden,
        replica_hidden,
        activation,
        choice.align,
    )
    attrs = {
        "dataset": pipeline_params["dataset"]["name"],
        "activation": activation,
        "task": "classification",
        "layer": choice.layer,
        "pipeline_keys": json.dumps(keys._asdict()),
    }
    return reference, aligned, attrs


if __name__ == "__main__":
    run_stage(main)
