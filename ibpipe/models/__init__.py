"""Networks the pipeline trains, rebuilt from params and from stored weights."""

from __future__ import annotations

import torch

from ibpipe.models.mlp import MLP


def build_model(arch: str, n_inputs: int, n_classes: int, widths: list[int], activation: str) -> torch.nn.Module:
    """The network named by ``model.arch`` with fresh, initialised weights."""
    if arch == "mlp":
        return MLP(n_inputs, widths, n_classes, activation)
    raise ValueError(f"unknown model.arch {arch!r}; known: mlp")


def layer_widths(model: torch.nn.Module, inputs: torch.Tensor) -> dict[str, int]:
    """Units per recorded layer, read off one forward pass."""
    return {name: int(values[0].numel()) for name, values in model.record(inputs[:1]).items()}


def load_weights(model: torch.nn.Module, weights: dict) -> torch.nn.Module:
    """Put stored numpy parameters back into ``model`` (strict: names and shapes must match)."""
    model.load_state_dict({name: torch.from_numpy(values) for name, values in weights.items()}, strict=True)
    return model


def record_epochs(model: torch.nn.Module, weights_by_epoch, inputs: torch.Tensor):
    """For each (epoch, weights) yield (epoch, {layer: activations as float32 numpy})."""
    model.eval()
    for epoch, weights in weights_by_epoch:
        load_weights(model, weights)
        activations = model.record(inputs)
        yield epoch, {layer: values.flatten(1).numpy().astype("float32", copy=False) for layer, values in activations.items()}
