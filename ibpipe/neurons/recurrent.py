"""A small recurrent net whose recurrent neurons are the neuron set.

    h_t = s(W h_{t-1} + V x_t + b),  h_0 = 0,  output = U h_T + c,

over a sequence x_1..x_T (a gait window is T = window steps of one input each). Recurrent neuron j's
parameters are its row of W, its row of V and its bias: theta_j = (W_j, V_j, b_j), h + n_in + 1
numbers (``recurrent_rows``). In data/bootstrap.nc the incoming weights ``w_in`` of neuron j are
(W_j, V_j), so the bootstrap covariance, k-means and W2 work on these rows unchanged. With W = 0 the
last state is s(V x_T + b): the hidden layer of a feed-forward net on the last input alone.

Aligning a replica permutes (and for an odd s sign-flips) its neurons: rows of W, V, b and columns of
U, and also the columns of W, the recurrent neuron's outgoing weights into the others
(``align_recurrent``): W' = S P W P^T S, which computes the same function. Replacing neurons by their
centres and merging: neurons with equal rows have equal states at every step (same inputs, same
h_0), so one of them can carry them all: its W row takes, for each merged neuron, the sum of the
entries of the neurons merged into it, and its outgoing weights (columns of W and U) are summed
(``merge_recurrent``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ibpipe.neurons.alignment import align_by_weights, align_to_reference
from ibpipe.nn.activations import ACTIVATIONS
from ibpipe.nn.activations import activation as get_activation


class RecurrentNet(nn.Module):
    """The net of the module docstring on sequences (N, T, n_in); weights start like ``HiddenLayerNet``'s."""

    def __init__(self, n_in: int, hidden: int, n_out: int, activation: str = "tanh"):
        super().__init__()
        self.activation = activation
        self.nonlinearity = get_activation(activation).make()
        self.recurrent = nn.Linear(hidden, hidden, bias=False)
        self.input = nn.Linear(n_in, hidden)
        self.output = nn.Linear(hidden, n_out)
        for layer in (self.recurrent, self.input, self.output):
            std = 1.0 / math.sqrt(layer.in_features)
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
        for layer in (self.input, self.output):
            nn.init.zeros_(layer.bias)

    @classmethod
    def from_arrays(cls, w_in, b_in, w_out, b_out, activation: str = "tanh") -> RecurrentNet:
        """A net holding these weights; ``w_in`` = [W | V] (h, h + n_in), as in data/bootstrap.nc."""
        w_in, b_in, w_out, b_out = (torch.as_tensor(np.asarray(a)) for a in (w_in, b_in, w_out, b_out))
        hidden = w_in.shape[0]
        net = cls(w_in.shape[1] - hidden, hidden, w_out.shape[0], activation).to(w_in.dtype)
        with torch.no_grad():
            net.recurrent.weight.copy_(w_in[:, :hidden])
            net.input.weight.copy_(w_in[:, hidden:])
            net.input.bias.copy_(b_in)
            net.output.weight.copy_(w_out)
            net.output.bias.copy_(b_out)
        return net

    def states(self, sequences: torch.Tensor) -> torch.Tensor:
        """h_1..h_T (N, T, h); a 2-D input (N, T) is T steps of one input each."""
        if sequences.ndim == 2:
            sequences = sequences[..., None]
        driven = self.input(sequences)
        state = torch.zeros(len(sequences), self.recurrent.in_features, dtype=driven.dtype)
        states = []
        for step in range(sequences.shape[1]):
            state = self.nonlinearity(self.recurrent(state) + driven[:, step])
            states.append(state)
        return torch.stack(states, dim=1)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        return self.output(self.states(sequences)[:, -1])


def recurrent_arrays(net: RecurrentNet) -> tuple[np.ndarray, ...]:
    """(w_in = [W | V] (h, h + n_in), b (h,), U (o, h), c (o,)) as numpy copies."""
    with torch.no_grad():
        w_in = torch.cat([net.recurrent.weight, net.input.weight], dim=1)
        return tuple(
            p.detach().cpu().numpy().copy() for p in (w_in, net.input.bias, net.output.weight, net.output.bias)
        )


def recurrent_rows(net: RecurrentNet) -> np.ndarray:
    """(h, h + n_in + 1): each recurrent neuron's row of W, row of V, then its bias."""
    w_in, b_in, _, _ = recurrent_arrays(net)
    return np.concatenate([w_in, b_in[:, None]], axis=1)


@torch.no_grad()
def recurrent_states(arrays: tuple[np.ndarray, ...], inputs: np.ndarray, activation: str) -> np.ndarray:
    """Every state h_t of every sequence, (N T, h) float64: what ``align_recurrent`` correlates."""
    net = RecurrentNet.from_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays), activation=activation)
    states = net.states(torch.as_tensor(np.asarray(inputs, dtype=np.float64)))
    return states.reshape(-1, states.shape[-1]).numpy()


def permute_recurrent(arrays, permutation: np.ndarray, signs: np.ndarray) -> tuple[np.ndarray, ...]:
    """The net with neuron i of the result = ``signs[i]`` x neuron ``permutation[i]``: W' = S P W P^T S, V' = S P V,
    b' = S P b, U' = U P^T S (the same function for an odd activation)."""
    w_in, b_in, w_out, b_out = (np.asarray(a) for a in arrays)
    hidden = len(b_in)
    signs = np.asarray(signs, dtype=np.float64)
    recurrent = w_in[:, :hidden][permutation][:, permutation] * signs[:, None] * signs[None, :]
    driven = w_in[:, hidden:][permutation] * signs[:, None]
    return (
        np.concatenate([recurrent, driven], axis=1),
        b_in[permutation] * signs,
        w_out[:, permutation] * signs[None, :],
        b_out,
    )


def align_recurrent(reference, replicas, inputs: np.ndarray, activation: str, method: str = "activations") -> dict:
    """Replicas re-indexed (and sign-flipped) to the reference by their states' |correlation| (``activations``)
    or the cosine of their input rows (V_j, b_j) (``weights``: the row of W is written in each net's own order
    of neurons, so it cannot be compared before the match); as ``ibpipe.neurons.replicas.align_replicas``."""
    odd = ACTIVATIONS[activation].odd
    reference_states = recurrent_states(reference, inputs, activation) if method == "activations" else None
    hidden = len(reference[1])
    reference_rows = np.concatenate([reference[0][:, hidden:], reference[1][:, None]], axis=1)
    aligned = {"w_in": [], "b_in": [], "w_out": [], "b_out": [], "quality": []}
    for replica in replicas:
        if method == "activations":
            match = align_to_reference(reference_states, recurrent_states(replica, inputs, activation), odd)
        else:
            rows = np.concatenate([replica[0][:, hidden:], replica[1][:, None]], axis=1)
            match = align_by_weights(reference_rows, rows, odd)
        permutation, signs, quality = match
        for name, value in zip(("w_in", "b_in", "w_out", "b_out"), permute_recurrent(replica, permutation, signs)):
            aligned[name].append(value)
        aligned["quality"].append(quality)
    return {name: np.stack(values) for name, values in aligned.items()}


def merge_recurrent(arrays, labels: np.ndarray, centre_means: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every neuron replaced by its centre's row (W_j, V_j, b_j), then neurons with equal rows merged into the
    first of them (see the module docstring); returns the smaller net's arrays, which compute the same outputs."""
    _, _, w_out, b_out = (np.asarray(a, dtype=np.float64) for a in arrays)
    hidden = w_out.shape[1]
    replaced = np.asarray(centre_means, dtype=np.float64)[np.asarray(labels)]
    _, first, inverse = np.unique(replaced, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    group = np.empty_like(order)
    group[order] = np.arange(len(order))
    group = group[inverse.reshape(-1)]  # merged index of every original neuron
    kept = replaced[first[order]]
    membership = np.zeros((hidden, len(order)))
    membership[np.arange(hidden), group] = 1.0
    recurrent = kept[:, :hidden] @ membership  # sum of the W entries of the neurons merged into each
    return (
        np.concatenate([recurrent, kept[:, hidden:-1]], axis=1),
        kept[:, -1],
        w_out @ membership,
        b_out,
    )


def train_recurrent(inputs, targets, settings, initial_state: dict | None = None, seed: int | None = None):
    """Full-batch Adam on the mean squared error of the last state's read-out (as ``train_net``)."""
    from ibpipe.neurons.tasks import regression_loss
    from ibpipe.nn.training import fit

    torch.manual_seed(settings.seed if seed is None else seed)
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
    net = RecurrentNet(1 if x.ndim == 2 else x.shape[2], settings.hidden, y.shape[1], settings.activation)
    if initial_state is not None:
        net.load_state_dict(initial_state)
    for _ in fit(net, regression_loss, (x, y), epochs=settings.epochs, learning_rate=settings.learning_rate):
        pass
    return net.eval()


def recurrent_replica(replica: int, *, inputs, labels, settings, shared_start: dict | None) -> tuple[np.ndarray, ...]:
    """The Dask task of one recurrent replica: a seeded bootstrap resample of the windows."""
    torch.set_num_threads(1)
    rows = np.random.default_rng([settings.seed, replica]).integers(0, len(labels), len(labels))
    return recurrent_arrays(
        train_recurrent(inputs[rows], labels[rows], settings, shared_start, settings.seed + 1 + replica)
    )


def recurrent_start(settings, n_out: int) -> dict:
    torch.manual_seed(settings.seed)
    return RecurrentNet(1, settings.hidden, n_out, settings.activation).state_dict()
