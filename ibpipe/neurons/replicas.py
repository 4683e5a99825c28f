"""Bootstrap replicas of a one-hidden-layer network.

Full-batch training (seeded), replicas on resamples (Dask tasks), their neurons aligned to the reference.
"""

from __future__ import annotations

import numpy as np
import torch

from ibpipe.neurons.alignment import align_by_weights, align_to_reference, apply_alignment
from ibpipe.neurons.network import HiddenLayerNet, layer_arrays
from ibpipe.neurons.params import NetTraining
from ibpipe.neurons.tasks import LOSSES
from ibpipe.nn.activations import ACTIVATIONS
from ibpipe.nn.training import fit
from ibpipe.schema import one_of, setting


class NetSettings(NetTraining):
    """``NetTraining`` plus what the task decides: its loss and its number of outputs."""

    loss: one_of(LOSSES) = setting("cross_entropy", "loss: cross_entropy (labels) or mse (float targets)")
    n_out: int = setting(0, "outputs; 0: one per class of the labels", ge=0)

    @classmethod
    def for_task(cls, training: NetTraining, loss: str, n_out: int) -> NetSettings:
        return cls(**{name: getattr(training, name) for name in NetTraining.model_fields}, loss=loss, n_out=n_out)


def train_net(
    inputs: np.ndarray,
    labels: np.ndarray,
    settings: NetSettings,
    initial_state: dict | None = None,
    seed: int | None = None,
) -> HiddenLayerNet:
    """Full-batch Adam on ``settings.loss`` (labels for cross-entropy, float targets (n, n_out) for
    MSE); ``initial_state`` (a state_dict) replaces the seeded initialisation."""
    torch.manual_seed(settings.seed if seed is None else seed)
    classes = settings.loss == "cross_entropy"
    x = torch.as_tensor(inputs, dtype=torch.float32).flatten(1)
    y = torch.as_tensor(labels, dtype=torch.long if classes else torch.float32)
    n_out = settings.n_out or (int(labels.max()) + 1 if classes else y.shape[1])
    net = HiddenLayerNet(x.shape[1], settings.hidden, n_out, settings.activation)
    if initial_state is not None:
        net.load_state_dict(initial_state)
    # Full batch (batch_size=None): no shuffling, so the only randomness is the initialisation above.
    for _ in fit(net, LOSSES[settings.loss], (x, y), epochs=settings.epochs, learning_rate=settings.learning_rate):
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
    while settings.loss == "cross_entropy" and len(np.unique(labels[rows])) < len(np.unique(labels)):
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

    Returns w_in (B, h, p), b_in (B, h), w_out (B, o, h), b_out (B, o), quality (B, h).
    """
    by_activations = method == "activations"
    reference_hidden = hidden_activations(reference[0], reference[1], inputs, activation) if by_activations else None
    replica_hidden = [
        hidden_activations(w_in, b_in, inputs, activation) if by_activations else None for w_in, b_in, _, _ in replicas
    ]
    return align_arrays(reference, replicas, reference_hidden, replica_hidden, activation, method)


def align_arrays(
    reference: tuple[np.ndarray, ...],
    replicas: list[tuple[np.ndarray, ...]],
    reference_hidden: np.ndarray | None,
    replica_hidden: list[np.ndarray | None],
    activation: str,
    method: str = "activations",
) -> dict[str, np.ndarray]:
    """``align_replicas`` given the layer's activations (n, h) of the reference and of each replica
    (used when ``method`` is ``activations``; a layer inside a deeper net brings its own)."""
    odd = ACTIVATIONS[activation].odd
    reference_in = np.concatenate([reference[0], reference[1][:, None]], axis=1)
    aligned = {"w_in": [], "b_in": [], "w_out": [], "b_out": [], "quality": []}
    for (w_in, b_in, w_out, b_out), hidden in zip(replicas, replica_hidden):
        if method == "activations":
            permutation, signs, quality = align_to_reference(reference_hidden, hidden, odd)
        else:
            permutation, signs, quality = align_by_weights(
                reference_in, np.concatenate([w_in, b_in[:, None]], axis=1), odd
            )
        for name, value in zip(("w_in", "b_in", "w_out"), apply_alignment(w_in, b_in, w_out, permutation, signs)):
            aligned[name].append(value)
        aligned["b_out"].append(b_out)
        aligned["quality"].append(quality)
    return {name: np.stack(values) for name, values in aligned.items()}
