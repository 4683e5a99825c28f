"""The bootstrap stage's work: a reference network and B replicas trained on bootstrap resamples, aligned to it.

``source: own``: a one-hidden-layer net on ``dataset`` (classification, or the gait series forecast), or
with ``architecture: recurrent`` the recurrent net of ``ibpipe.neurons.recurrent`` on the gait windows.
``pipeline``: the layer ``layer`` of the pipeline's trained network (from data/neuron_source, written
by `neuron-source`), its replicas trained like the pipeline's. Replicas train on Dask workers (one
thread each). ``replica_set`` returns data/bootstrap.nc: the reference's layers, the aligned
replicas' layers (dim replica) and the alignment quality per replica and neuron.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.errors import ParamsError
from ibpipe.io.files import read_json
from ibpipe.neurons.network import layer_arrays
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
from ibpipe.neurons.recurrent import (
    align_recurrent,
    recurrent_arrays,
    recurrent_replica,
    recurrent_start,
    train_recurrent,
)
from ibpipe.neurons.replicas import NetSettings, align_arrays, align_replicas, initial_state, replica_arrays, train_net
from ibpipe.neurons.tasks import task_of
from ibpipe.parallel import dask_client, run_tasks

LAYER_DIMS = {"w_in": ("neuron", "input"), "b_in": ("neuron",), "w_out": ("output", "neuron"), "b_out": ("output",)}


def replica_set(bootstrap_params: Any, source: Path) -> xr.Dataset:
    """The reference and its aligned replicas as the validated ``neurons.bootstrap`` section asks; ``source``
    is the `neuron-source` folder (read only for ``source: pipeline``)."""
    if bootstrap_params.source == "pipeline":
        if bootstrap_params.neuron_layer != "hidden":
            raise ParamsError(
                f"neurons.bootstrap.neuron_layer = {bootstrap_params.neuron_layer} needs source: own; a pipeline "
                "layer is analysed as a hidden layer (choose its name with neurons.bootstrap.layer)"
            )
        reference, aligned, attrs = _pipeline_layer(bootstrap_params, source)
    else:
        reference, aligned, attrs = _own_net(bootstrap_params)
    variables = {f"reference_{name}": (dims, value) for (name, dims), value in zip(LAYER_DIMS.items(), reference)}
    variables.update({f"replica_{name}": (("replica", *dims), aligned[name]) for name, dims in LAYER_DIMS.items()})
    variables["alignment_quality"] = (
        ("replica", "neuron"),
        aligned["quality"],
        {"long_name": f"matched correlation with the reference neuron ({bootstrap_params.align})"},
    )
    coords = {"replica": np.arange(bootstrap_params.replicas), "neuron": np.arange(len(reference[1]))}
    dataset = xr.Dataset(variables, coords=coords)
    dataset.attrs.update({**attrs, "source": bootstrap_params.source, "neuron_layer": bootstrap_params.neuron_layer})
    return dataset


def _own_net(bootstrap_params):
    """The net the experiment trains itself (the MLP, or the recurrent net of ``ibpipe.neurons.recurrent`` on the
    gait windows, one input per step), its replicas aligned to it, and the attrs that say what it was."""
    task = task_of(bootstrap_params)
    recurrent = bootstrap_params.architecture == "recurrent"
    if recurrent and (task.kind != "series" or bootstrap_params.neuron_layer != "hidden" or bootstrap_params.dim):
        raise ParamsError(
            "neurons.bootstrap.architecture = recurrent needs a series dataset (gait), neuron_layer: hidden and dim: 0"
        )
    settings = NetSettings.for_task(bootstrap_params, loss=task.loss, n_out=task.n_out)
    if recurrent:
        start = recurrent_start(settings, task.n_out)
        reference = recurrent_arrays(train_recurrent(task.train_x, task.train_y, settings, start))
        replica, align = recurrent_replica, align_recurrent
    else:
        start = initial_state(task.train_x.shape[1], task.n_out, settings)
        reference = layer_arrays(train_net(task.train_x, task.train_y, settings, start))
        replica, align = replica_arrays, align_replicas
    shared = {
        "inputs": task.train_x,
        "labels": task.train_y,
        "settings": settings,
        "shared_start": start if bootstrap_params.init == "same" else None,
    }
    replicas = _run_replicas(bootstrap_params, replica, shared)
    aligned = align(reference, replicas, task.train_x, bootstrap_params.activation, bootstrap_params.align)
    attrs = {"dataset": bootstrap_params.dataset, "activation": bootstrap_params.activation, "task": task.kind}
    return reference, aligned, {**attrs, "architecture": "recurrent"} if recurrent else attrs


def _pipeline_layer(bootstrap_params, source: Path):
    described = read_json(source / "source.json")
    spec, pipeline_params = described["model"], json.loads(described["params"])
    train_x, train_y = pipeline_rows(pipeline_params, "train")
    final, initial = load_state(source / "final"), load_state(source / "initial")
    model = build_with(spec, final)
    keys = dense_layer_keys(model, spec, bootstrap_params.layer)
    training = PipelineTraining(
        **{name: pipeline_params["train"][name] for name in ("epochs", "batch_size", "learning_rate", "seed")}
    )
    shared = {
        "spec": spec,
        "inputs": train_x,
        "labels": train_y,
        "training": training,
        "shared_start": initial if bootstrap_params.init == "same" else None,
    }
    states = _run_replicas(bootstrap_params, pipeline_replica_state, shared)
    activation = spec.get("activation", "relu") if spec["arch"] == "mlp" else "relu"
    by_activations = bootstrap_params.align == "activations"
    aligned = align_arrays(
        layer_arrays_of(final, keys),
        [layer_arrays_of(state, keys) for state in states],
        layer_activations(model, bootstrap_params.layer, train_x) if by_activations else None,
        [
            layer_activations(build_with(spec, s), bootstrap_params.layer, train_x) if by_activations else None
            for s in states
        ],
        activation,
        bootstrap_params.align,
    )
    attrs = {
        "dataset": pipeline_params["dataset"]["name"],
        "activation": activation,
        "task": "classification",
        "layer": bootstrap_params.layer,
        "pipeline_keys": json.dumps(keys._asdict()),
    }
    return layer_arrays_of(final, keys), aligned, attrs


def _run_replicas(bootstrap_params, task, shared: dict) -> list:
    """``task(r)`` for every replica r, on the section's Dask scheduler."""
    with dask_client(bootstrap_params.scheduler, bootstrap_params.workers) as client:
        return run_tasks(client, task, [(r,) for r in range(bootstrap_params.replicas)], shared, "bootstrap")
