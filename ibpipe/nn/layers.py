"""Running a network over stored weights and recording its layers, in bounded batches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch


def layer_shapes(model: torch.nn.Module, inputs: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Shape of one sample's activations per recorded layer, read off one forward pass."""
    model.eval()
    return {name: tuple(values.shape[1:]) for name, values in model.record(inputs[:1]).items()}


def layer_widths(model: torch.nn.Module, inputs: torch.Tensor) -> dict[str, int]:
    """Units per recorded layer (the product of its shape)."""
    return {name: int(np.prod(shape)) for name, shape in layer_shapes(model, inputs).items()}


def load_weights(model: torch.nn.Module, weights: Mapping[str, np.ndarray]) -> torch.nn.Module:
    """Put stored numpy parameters back into ``model`` (strict: names and shapes must match)."""
    model.load_state_dict({name: torch.from_numpy(np.asarray(values)) for name, values in weights.items()}, strict=True)
    return model


@torch.no_grad()
def record_flat(model: torch.nn.Module, inputs: torch.Tensor, batch_rows: int = 4096) -> dict[str, np.ndarray]:
    """Every recorded layer as float32 (n_samples, n_units), forward passes of at most ``batch_rows`` rows."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(inputs), batch_rows):
        for layer, values in model.record(inputs[start : start + batch_rows]).items():
            parts.setdefault(layer, []).append(values.flatten(1).numpy().astype("float32", copy=False))
    return {layer: chunks[0] if len(chunks) == 1 else np.concatenate(chunks) for layer, chunks in parts.items()}


def record_epochs(model: torch.nn.Module, weights_by_epoch: Iterable, inputs: torch.Tensor, batch_rows: int = 4096):
    """For each (epoch, weights) yield (epoch, {layer: float32 (n_samples, n_units)})."""
    for epoch, weights in weights_by_epoch:
        yield epoch, record_flat(load_weights(model, weights), inputs, batch_rows)


def record_slab(
    model: torch.nn.Module, weights_by_epoch: Sequence[tuple[int, Mapping[str, np.ndarray]]], inputs: torch.Tensor
) -> dict[str, np.ndarray]:
    """Activations of ``inputs`` under each epoch's weights: {layer: float32 (n_epochs, n_samples, n_units)}."""
    per_epoch = [record_flat(load_weights(model, weights), inputs) for _, weights in weights_by_epoch]
    return {layer: np.stack([recorded[layer] for recorded in per_epoch]) for layer in per_epoch[0]}


def record_pre_noise_slab(
    model: torch.nn.Module,
    weights_by_epoch: Sequence[tuple[int, Mapping[str, np.ndarray]]],
    inputs: torch.Tensor,
    n_draws: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """A noisy network's noiseless hidden outputs in ``n_draws`` noisy passes under each epoch's weights:
    {layer: float32 (n_epochs, n_samples, n_draws, n_units)}. The noise of epoch e is seeded by (seed, e),
    so a shard's draws do not depend on how epochs are grouped."""
    model.eval()
    per_epoch = []
    for epoch, weights in weights_by_epoch:
        torch.manual_seed(int(seed) * 1_000_003 + int(epoch))
        recorded = load_weights(model, weights).record_pre_noise(inputs, n_draws)
        per_epoch.append({layer: values.flatten(2).numpy().astype("float32") for layer, values in recorded.items()})
    return {layer: np.stack([recorded[layer] for recorded in per_epoch]) for layer in per_epoch[0]}
