"""Bootstrap replicas of a one-hidden-layer network.

Full-batch training (seeded), replicas on resamples (Dask tasks), their neurons aligned to the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ibpipe.neurons.alignment import align_by_weights, align_to_reference, apply_alignment
from ibpipe.neurons.network import HiddenLayerNet, layer_arrays
from ibpipe.nn.activations import ACTIVATIONS
from ibpipe.nn.training import classification_loss, fit
from ibpipe.settings import FromParams


@dataclass(frozen=True)
class NetSettings(FromParams):
    hidden: int = 32
    activation: str = "tanh"
    epochs: int = 1000
    learning_rate: float = 1.0e-2
    seed: int = 0


def train_net(
    inputs: np.ndarray,
    labels: np.ndarray,
    settings: NetSettings,
    initial_state: dict | None = None,
    seed: int | None = None,
) -> HiddenLayerNet:
    """Full-batch Adam on cross-entropy; ``initial_state`` (a state_dict) replaces the seeded initialisation."""
    torch.manual_seed(settings.seed if seed is None else seed)
    x, y = torch.as_tensor(inputs, dtype=torch.float32).flatten(1), torch.as_tensor(labels, dtype=torch.long)
    net = HiddenLayerNet(x.shape[1], settings.hidden, int(labels.max()) + 1, settings.activation)
    if initial_state is not None:
        net.load_state_dict(initial_state)
    # Full batch (batch_size=None): no shuffling, so the only randomness is the initialisation above.
    for _ in fit(net, classification_loss, (x, y), epochs=settings.epochs, learning_rate=settings.learning_rate):
        pass
    return net.eval()


def initial_state(n_inputs: int, n_classes: int, settings: NetSettings) -> dict:
    torch.manual_seed(settings.seed)
    return HiddenLayerNet(n_inputs, settings.hidden, n_classes, settings.activation).state_dict()


def replica_arrays(
    replica: int, *, inputs: np.ndarray, labels: np.ndarray, settings: NetSettings, shared_start: dict | None
) -> tuple[np.ndarray, ...]:
    """The Dask task of one replica: train on a seeded bootstrap resample; (w_in, b_in, w_out, b_out)."""
    torch.set_num_threads(1)
    rows = np.random.default_rng([settings.seed, replica]).integers(0, len(labels), len(labels))
    # Every class must appear for the output layer to keep its meaning; resample until it does.
    attempt = 0
    while len(np.unique(labels[rows])) < len(np.unique(labels)):
        attempt += 1
        rows = np.random.default_rng([settings.seed, replica, attempt]).integers(0, len(labels), len(labels))
    net = train_net(inputs[rows], labels[rows], settings, shared_start, seed=settings.seed + 1 + replica)
    return layer_arrays(net)


def hidden_activations(w_in: np.ndarray, b_in: np.ndarray, inputs: np.ndarray, activation: str) -> np.ndarray:
    net = HiddenLayerNet.from_arrays(
        w_in.astype(np.float64), b_in.astype(np.float64), np.zeros((1, len(b_in))), np.zeros(1), activation
    )
    with torch.no_grad():
        return net.hidden_activations(torch.as_tensor(np.asarray(inputs, dtype=np.float64))).numpy()


def align_replicas(
    reference: tuple[np.ndarray, ...],
    replicas: list[tuple[np.ndarray, ...]],
    inputs: np.ndarray,
    activation: str,
    method: str = "activations",
) -> dict[str, np.ndarray]:
    """Replicas' layers re-indexed (and sign-flipped) to the reference.

    Returns w_in (B, h, p), b_in (B, h), w_out (B, o, h), quality (B, h).
    """
    odd = ACTIVATIONS[activation].odd
    reference_in = np.concatenate([reference[0], reference[1][:, None]], axis=1)
    reference_hidden = (
        hidden_activations(reference[0], reference[1], inputs, activation) if method == "activations" else None
    )
    aligned = {"w_in": [], "b_in": [], "w_out": [], "b_out": [], "quality": []}
    for w_in, b_in, w_out, b_out in replicas:
        if method == "activations":
            permutation, signs, quality = align_to_reference(
                reference_hidden, hidden_activations(w_in, b_in, inputs, activation), odd
            )
        else:
            permutation, signs, quality = align_by_weights(
                reference_in, np.concatenate([w_in, b_in[:, None]], axis=1), odd
            )
        for name, value in zip(("w_in", "b_in", "w_out"), apply_alignment(w_in, b_in, w_out, permutation, signs)):
            aligned[name].append(value)
        aligned["b_out"].append(b_out)
        aligned["quality"].append(quality)
    return {name: np.stack(values) for name, values in aligned.items()}
