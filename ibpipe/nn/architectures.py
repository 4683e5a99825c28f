"""Networks the pipeline trains, rebuilt from a stored spec, and their recorded layers.

A model is any ``torch.nn.Module`` with a ``record(inputs)`` method returning the layers to
measure in forward order (the output layer as softmax probabilities). The spec stored
with the weights (``model_spec``) is all it takes to rebuild one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ibpipe.errors import InputError, MissingFileError
from ibpipe.nn.cnn import digits_cnn, thesis_cnn
from ibpipe.nn.layer_outputs import PROBE_CHECK_ROWS, describe_output, probing
from ibpipe.nn.mlp import MLP
from ibpipe.nn.quantize import QuantizedMLP
from ibpipe.nn.recording import RecordedModel, build_custom, describe_layout

ARCHITECTURES = ("mlp", "thesis-cnn", "digits-cnn", "custom")


# The CNNs are built for one image size each.
CNN_INPUTS = {
    "thesis-cnn": ((1, 28, 28), thesis_cnn, "mnist or fashion_mnist"),
    "digits-cnn": ((1, 8, 8), digits_cnn, "digits"),
}


def model_spec(
    arch: str,
    input_shape: Sequence[int],
    n_classes: int,
    *,
    widths: Sequence[int] = (),
    activation: str = "tanh",
    factory: str = "",
    kwargs: Mapping[str, Any] | None = None,
    layers: Mapping[str, str] | None = None,
    softmax: str = "output",
    noise_std: float = 0.0,
    quantize: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything ``build_model`` needs, as plain JSON-able values (stored in the weights' attrs).

    ``noise_std``, ``quantize`` and ``inputs`` (the layout of inputs made of several tensors,
    ``ibpipe.data.arrays.pack_inputs``; custom models only) appear only when set, so a plain run
    stores the same spec as before.
    """
    if inputs and arch != "custom":
        raise InputError(
            f"model.arch {arch}: this dataset's rows hold several input tensors "
            f"({', '.join(repr(part['name']) for part in inputs['parts'])}), which only a custom model's forward "
            "takes; use model.arch custom with model.factory, or give the dataset one input array"
        )
    spec = {
        "arch": arch,
        "input_shape": [int(size) for size in input_shape],
        "n_classes": int(n_classes),
        "widths": [int(width) for width in widths],
        "activation": activation,
        "factory": factory,
        "kwargs": dict(kwargs or {}),
        "layers": dict(layers or {}),
        "softmax": softmax,
    }
    if noise_std > 0:
        spec["noise_std"] = float(noise_std)
    if quantize:
        spec["quantize"] = dict(quantize)
    if inputs:
        spec["inputs"] = dict(inputs)
    return spec


def build_model(spec: Mapping[str, Any]) -> torch.nn.Module:
    """The network of a ``model_spec`` with fresh weights (seed torch first for reproducible ones)."""
    arch, input_shape, n_classes = spec["arch"], tuple(spec["input_shape"]), spec["n_classes"]
    if arch == "mlp" and spec.get("quantize"):
        return QuantizedMLP(
            int(np.prod(input_shape)), list(spec["widths"]), n_classes, spec["activation"], **spec["quantize"]
        )
    if arch == "mlp":
        return MLP(
            int(np.prod(input_shape)), list(spec["widths"]), n_classes, spec["activation"], spec.get("noise_std", 0.0)
        )
    if arch in CNN_INPUTS:
        expected, build, datasets = CNN_INPUTS[arch]
        if input_shape != expected:
            raise InputError(
                f"model.arch {arch} takes {'x'.join(map(str, expected))} images ({datasets}); "
                f"this dataset's inputs are {'x'.join(map(str, input_shape))}"
            )
        return build(n_classes)
    if arch == "custom":
        model = build_custom(spec["factory"], spec["kwargs"])
        return RecordedModel(model, spec["layers"], spec["softmax"] or None, spec.get("inputs"))
    if arch == "recorded":
        raise InputError(
            f"these weights were recorded by ibpipe.Recorder from a {spec.get('class', 'model')} without a model "
            "factory, so the network cannot be rebuilt from them; pass factory='package.module:function' (and "
            "factory_kwargs) to ibpipe.Recorder"
        )
    raise InputError(f"unknown model.arch {arch!r}; known: {', '.join(ARCHITECTURES)}")


def check_on_probe_batch(spec: Mapping[str, Any], inputs: np.ndarray, labels: np.ndarray) -> None:
    """Refuse, before any training, a network of ``spec`` that would fail or mislead on this data.

    One probe batch (the first ``PROBE_CHECK_ROWS`` rows of ``inputs``) goes through a freshly built
    network: its forward must run on the dataset's batch structure, return (rows, classes) logits with
    as many classes as ``spec`` counts from the labels, and every recorded layer must exist and give a
    recordable output (``model.layers``' ``output`` selector and ``tokens`` pooling applied). All labels
    must lie in [0, classes). Each failure is one ``InputError`` naming the key, the output's type and
    shape, and the fix. The global RNG and the network's flags are left as they were.
    """
    n_classes = int(spec["n_classes"])
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)]
        raise InputError(
            f"labels include {bad[0]}, outside the {n_classes} classes 0..{n_classes - 1} the network is built for; "
            "number the classes 0..K-1 (np.unique(labels, return_inverse=True)[1])"
        )
    rows = min(PROBE_CHECK_ROWS, len(inputs))
    batch = torch.from_numpy(np.ascontiguousarray(inputs[:rows]))
    what = f"model.factory {spec['factory']!r}" if spec["arch"] == "custom" else f"model.arch {spec['arch']}"
    with torch.random.fork_rng(devices=[]):
        model = build_model(spec)
        if not any(parameter.requires_grad for parameter in model.parameters()):
            raise InputError(
                f"{what}: the network has no trainable parameters (model.parameters() is empty or frozen), so there "
                "is nothing to train; give it layers with weights, or set requires_grad on them"
            )
        with probing(model):
            try:
                logits = model(batch)
            except InputError:
                raise
            except Exception as error:
                layout = spec.get("inputs")
                raise InputError(
                    f"{what}: its forward failed on a probe batch of {rows} rows given as "
                    f"{describe_layout(layout, rows) if layout else f'one Tensor{tuple(batch.shape)}'} "
                    f"({type(error).__name__}: {error}); a forward that takes several tensors or keywords needs a "
                    "dataset.factory returning them, (x1, x2, labels) or {name: array, ..., 'labels': labels}, "
                    "and one that takes one tensor needs inputs of the shape it expects"
                ) from error
            if logits.ndim != 2 or tuple(logits.shape) != (rows, n_classes):
                raise InputError(
                    f"{what}: its output on a probe batch of {rows} rows is {describe_output(logits)}, but the labels "
                    f"count {n_classes} classes, so it must be ({rows}, {n_classes}) logits; build its output layer "
                    f"with {n_classes} outputs"
                    + (" (e.g. pass the class count through model.kwargs)" if spec["arch"] == "custom" else "")
                )
            model.record(batch)


def load_checkpoint(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Start ``model`` from a ``torch.save``d state_dict, read with ``weights_only=True`` (no code runs on load).

    A custom model's checkpoint holds the user's own network (keys without the wrapper's prefix).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"model.checkpoint: {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for files it cannot unpickle safely
        raise InputError(
            f"model.checkpoint: {path} is not a state_dict loadable with weights_only=True ({error})"
        ) from error
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    target = model.model if isinstance(model, RecordedModel) else model
    try:
        target.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise InputError(f"model.checkpoint: {path} does not fit the network: {error}") from error
    return model
