"""A dense layer of one of the pipeline's own trained networks as the neuron set.

The layer ``name`` is a recorded layer of the network rebuilt from its stored spec
(``ibpipe.nn.architectures``). Its neurons are the output units of the first ``nn.Linear`` inside
the recorded module (an MLP's ``hidden3`` is ``layers.hidden3.0``): incoming weights and bias, as
in the one-hidden-layer nets. Their outgoing weights are the columns of the next ``nn.Linear`` in
module order, which is what merging sums. The output layer has no outgoing weights and cannot be
compressed this way.

Bootstrap replicas are the same architecture trained by the same code as the pipeline's
network (``ibpipe.nn.training.fit``: Adam, shuffled minibatches of the pipeline's batch size and
learning rate, its number of epochs) on a resample of the pipeline's training rows, from the
pipeline's initial weights (``init: same``) or their own seeded ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from ibpipe.data.datasets import load_dataset
from ibpipe.errors import InputError
from ibpipe.nn.architectures import build_model
from ibpipe.nn.layers import load_weights
from ibpipe.nn.training import classification_loss, fit, snapshot


class DenseLayerKeys(NamedTuple):
    """State-dict keys of the layer's incoming weights and bias and of the next layer's weights and bias."""

    w_in: str
    b_in: str
    w_out: str
    b_out: str


def recorded_module_path(model: nn.Module, spec: Mapping[str, Any], layer: str) -> str:
    """The module path of a recorded layer: ``layers.<name>`` (MLP), the CNN's or the custom spec's table."""
    if spec["arch"] == "mlp":
        return f"layers.{layer}"
    table = dict(spec.get("layers") or {}) if spec["arch"] == "custom" else dict(model.recorded_modules)
    if layer not in table:
        raise InputError(f"neurons.bootstrap.layer = {layer!r} is not a recorded layer; layers are {', '.join(table)}")
    return f"model.{table[layer]}" if spec["arch"] == "custom" else table[layer]


def dense_layer_keys(model: nn.Module, spec: Mapping[str, Any], layer: str) -> DenseLayerKeys:
    path = recorded_module_path(model, spec, layer)
    try:
        module = model.get_submodule(path)
    except AttributeError as error:
        raise InputError(f"neurons.bootstrap.layer = {layer!r}: the model has no module {path!r}") from error
    inner = [name for name, sub in module.named_modules() if isinstance(sub, nn.Linear)]
    if not inner:
        raise InputError(f"neurons.bootstrap.layer = {layer!r} holds no dense (nn.Linear) layer")
    dense = f"{path}.{inner[0]}".rstrip(".")
    linear = [name for name, sub in model.named_modules() if isinstance(sub, nn.Linear)]
    position = linear.index(dense)
    if position + 1 == len(linear):
        raise InputError(
            f"neurons.bootstrap.layer = {layer!r} is the network's last dense layer: its neurons have no "
            "outgoing weights to merge; choose a hidden layer"
        )
    following = linear[position + 1]
    return DenseLayerKeys(f"{dense}.weight", f"{dense}.bias", f"{following}.weight", f"{following}.bias")


def layer_arrays_of(state: Mapping[str, np.ndarray], keys: DenseLayerKeys) -> tuple[np.ndarray, ...]:
    """(w_in (h, fan_in), b_in (h,), w_out (next, h), b_out (next,)) of a state dict."""
    return tuple(np.asarray(state[key]) for key in keys)


@dataclass(frozen=True)
class PipelineTraining:
    """How the pipeline trained its network (the ``train`` params stored with the weights)."""

    epochs: int
    batch_size: int
    learning_rate: float
    seed: int


def build_with(spec: Mapping[str, Any], state: Mapping[str, np.ndarray]) -> nn.Module:
    return load_weights(build_model(spec), state).eval()


def pipeline_replica_state(
    replica: int,
    *,
    spec: Mapping[str, Any],
    inputs: np.ndarray,
    labels: np.ndarray,
    training: PipelineTraining,
    shared_start: Mapping[str, np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """The Dask task of one replica: the pipeline's architecture trained on a seeded resample of its rows."""
    torch.set_num_threads(1)
    rows = np.random.default_rng([training.seed, replica]).integers(0, len(labels), len(labels))
    torch.manual_seed(training.seed + 1 + replica)
    model = build_model(spec)
    if shared_start is not None:
        load_weights(model, shared_start)
    generator = torch.Generator().manual_seed(training.seed + 1 + replica)
    x, y = torch.as_tensor(inputs[rows]), torch.as_tensor(labels[rows])
    for _ in fit(
        model,
        classification_loss,
        (x, y),
        epochs=training.epochs,
        learning_rate=training.learning_rate,
        batch_size=training.batch_size,
        generator=generator,
    ):
        pass
    return snapshot(model.eval())


@torch.no_grad()
def layer_activations(model: nn.Module, layer: str, inputs: np.ndarray) -> np.ndarray:
    """The recorded layer's outputs (n, h) for these inputs, float64."""
    return model.record(torch.as_tensor(inputs))[layer].flatten(1).double().numpy()


@torch.no_grad()
def replaced_accuracy(
    model: nn.Module, keys: DenseLayerKeys, rows: np.ndarray, inputs: np.ndarray, labels: np.ndarray
) -> float:
    """Test accuracy with the layer's (weights, bias) replaced by ``rows`` (h, fan_in + 1); the
    merged network computes the same function. ``model`` is modified in place."""
    state = model.state_dict()
    state[keys.w_in].copy_(torch.as_tensor(rows[:, :-1]))
    state[keys.b_in].copy_(torch.as_tensor(rows[:, -1]))
    predictions = model(torch.as_tensor(inputs)).argmax(dim=1).numpy()
    return float(np.mean(predictions == labels))


def merged_parameter_count(total: int, keys_shapes: tuple[tuple[int, ...], tuple[int, ...]], distinct: int) -> int:
    """Parameters of the network once a layer of h neurons (w_in (h, fan_in), w_out (next, h)) is
    merged to ``distinct`` neurons: each removed neuron takes fan_in + 1 incoming and ``next`` outgoing numbers."""
    (hidden, fan_in), (following, _) = keys_shapes
    return total - (hidden - distinct) * (fan_in + 1 + following)


class PipelineEvaluator:
    """Test accuracy and parameters of the pipeline's network with one layer merged to its centres
    (the evaluator of ``ibpipe.neurons.compression.curves_of``)."""

    def __init__(self, spec: Mapping[str, Any], state: Mapping[str, np.ndarray], layer: str, test_inputs, test_labels):
        self.model = build_with(spec, state)
        self.keys = dense_layer_keys(self.model, spec, layer)
        self.test_inputs, self.test_labels = np.asarray(test_inputs), np.asarray(test_labels)
        self.shapes = (tuple(state[self.keys.w_in].shape), tuple(state[self.keys.w_out].shape))
        self.params_full = int(sum(parameter.numel() for parameter in self.model.parameters()))
        reference = np.concatenate([state[self.keys.w_in], np.asarray(state[self.keys.b_in])[:, None]], axis=1)
        self.full_scores = {"accuracy": self._accuracy(reference)}

    def _accuracy(self, rows: np.ndarray) -> float:
        return replaced_accuracy(self.model, self.keys, rows, self.test_inputs, self.test_labels)

    def evaluate(self, labels: np.ndarray, centre_means: np.ndarray) -> tuple[dict[str, float], int]:
        rows = np.asarray(centre_means)[np.asarray(labels)]
        distinct = len(np.unique(rows, axis=0))
        return {"accuracy": self._accuracy(rows)}, merged_parameter_count(self.params_full, self.shapes, distinct)


def load_state(folder) -> dict[str, np.ndarray]:
    """The state dict saved by the `neuron-source` stage: one ``<parameter>.npy`` per entry."""
    return {path.stem: np.load(path) for path in sorted(Path(folder).glob("*.npy"))}


def pipeline_rows(pipeline_params: Mapping[str, Any], part: str) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) of the pipeline's ``train`` or ``test`` rows, from its stored ``dataset`` params."""
    chosen = pipeline_params["dataset"]
    data = load_dataset(
        chosen["name"],
        chosen["test_fraction"],
        chosen["split_seed"],
        root=chosen.get("root", "auto"),
        download=chosen.get("download", False),
    )
    rows = data.train_rows if part == "train" else data.test_rows
    return data.inputs[rows], data.labels[rows]
