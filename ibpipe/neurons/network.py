"""One-hidden-layer networks for neuron clustering and compression: the torch side of ``ibpipe.neurons``.

A hidden neuron j of ``HiddenLayerNet`` is the row theta_j = (w_j, b_j) of ``neuron_parameters``
(incoming weights, then bias), p = n_in + 1 numbers. ``replaced_net`` gives every neuron its
centre's mean (same width); ``merged_net`` merges the neurons that became identical, summing
their outgoing weights, and computes the same function with fewer parameters.

``hidden_sandwich_terms`` returns, per neuron, the two matrices of the sandwich covariance
H^-1 G H^-1 / N for the mean cross-entropy loss L = (1/N) sum_n L_n. With z_nj = theta_j . x~_n
(x~_n = (x_n, 1)), dL_n/dtheta_j = delta_nj x~_n and the Hessian block is
H_j = (1/N) sum_n (d^2 L_n / dz_nj^2) x~_n x~_n^T, exact since z_nj is linear in theta_j; so
G_j = (1/N) sum_n delta_nj^2 x~_n x~_n^T and neither the per-sample gradients nor the full
Hessian is stored. delta and the curvatures come from autograd, one backward pass per neuron.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ibpipe.neurons.merge import compress_layer, count_parameters
from ibpipe.nn.activations import activation as get_activation


class HiddenLayerNet(nn.Module):
    """x -> output(activation(hidden(x))): logits of ``n_out`` classes through ``hidden`` neurons.

    Weights start truncated-normal with std 1/sqrt(fan_in), biases at 0, as ``ibpipe.models.MLP``.
    """

    def __init__(self, n_in: int, hidden: int, n_out: int, activation: str = "tanh"):
        super().__init__()
        self.activation = activation
        self.nonlinearity = get_activation(activation).make()
        self.hidden = nn.Linear(n_in, hidden)
        self.output = nn.Linear(hidden, n_out)
        for layer in (self.hidden, self.output):
            std = 1.0 / math.sqrt(layer.in_features)
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
            nn.init.zeros_(layer.bias)

    @classmethod
    def from_arrays(cls, w_in, b_in, w_out, b_out, activation: str = "tanh") -> HiddenLayerNet:
        """A network holding these weights, in their floating dtype (float64 arrays give a float64 net)."""
        w_in, b_in, w_out, b_out = (torch.as_tensor(np.asarray(a)) for a in (w_in, b_in, w_out, b_out))
        net = cls(w_in.shape[1], w_in.shape[0], w_out.shape[0], activation).to(w_in.dtype)
        with torch.no_grad():
            for parameter, value in zip(
                (net.hidden.weight, net.hidden.bias, net.output.weight, net.output.bias), (w_in, b_in, w_out, b_out)
            ):
                parameter.copy_(value)
        return net

    def hidden_activations(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.nonlinearity(self.hidden(inputs.flatten(1)))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden_activations(inputs))


def layer_arrays(net: HiddenLayerNet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(w_in (h, n_in), b_in (h,), w_out (n_out, h), b_out (n_out,)) as numpy copies."""
    return tuple(
        p.detach().cpu().numpy().copy()
        for p in (net.hidden.weight, net.hidden.bias, net.output.weight, net.output.bias)
    )


def neuron_parameters(net: HiddenLayerNet) -> np.ndarray:
    """The (h, n_in + 1) matrix of each hidden neuron's incoming weights followed by its bias."""
    w_in, b_in, _, _ = layer_arrays(net)
    return np.concatenate([w_in, b_in[:, None]], axis=1)


def replaced_net(net: HiddenLayerNet, labels: np.ndarray, centre_means: np.ndarray) -> HiddenLayerNet:
    """The same width, every neuron's (weights, bias) replaced by ``centre_means[labels[j]]``."""
    w_in, _, w_out, b_out = layer_arrays(net)
    replaced = np.asarray(centre_means)[np.asarray(labels)].astype(w_in.dtype)
    return HiddenLayerNet.from_arrays(replaced[:, :-1], replaced[:, -1], w_out, b_out, net.activation)


def merged_net(net: HiddenLayerNet, labels: np.ndarray, centre_means: np.ndarray) -> HiddenLayerNet:
    """``replaced_net`` with identical neurons merged (``ibpipe.neurons.compress_layer``): same
    outputs, fewer neurons."""
    w_in, b_in, w_out, b_out = layer_arrays(net)
    merged_in, merged_bias, merged_out = compress_layer(w_in, b_in, w_out, labels, centre_means)
    return HiddenLayerNet.from_arrays(merged_in, merged_bias, merged_out, b_out, net.activation)


def parameter_count(net: nn.Module) -> int:
    return count_parameters(p.shape for p in net.parameters())


@torch.no_grad()
def accuracy(net: nn.Module, inputs, labels) -> float:
    dtype = next(net.parameters()).dtype
    predictions = net(torch.as_tensor(np.asarray(inputs), dtype=dtype)).argmax(dim=1).numpy()
    return float(np.mean(predictions == np.asarray(labels)))


def hidden_sandwich_terms(
    net: HiddenLayerNet, inputs, labels, batch_size: int = 4096, loss: str = "cross_entropy"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron G_j = (1/N) sum_n g_nj g_nj^T and Hessian blocks H_j of the mean loss, both (h, p, p).

    ``loss``: ``cross_entropy`` (integer labels) or ``mse`` (targets (N, o); L_n = mean over the o
    outputs of the squared error, as ``torch.nn.functional.mse_loss``).
    Coordinates are (incoming weights, bias) as in ``neuron_parameters``; pass both, with N, to
    ``ibpipe.neurons.sandwich_from_moments``. Computed in the network's dtype, returned in float64.
    """
    dtype = next(net.parameters()).dtype
    inputs = torch.as_tensor(np.asarray(inputs), dtype=dtype).flatten(1)
    classes = loss == "cross_entropy"
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long if classes else dtype)
    n_samples, hidden = len(inputs), net.hidden.out_features
    p = inputs.shape[1] + 1
    second_moments = np.zeros((hidden, p, p))
    hessians = np.zeros((hidden, p, p))
    for start in range(0, n_samples, batch_size):
        batch = inputs[start : start + batch_size]
        augmented = torch.cat([batch, torch.ones(len(batch), 1, dtype=dtype)], dim=1)
        pre_activations = net.hidden(batch).detach().requires_grad_(True)
        logits = net.output(net.nonlinearity(pre_activations))
        targets = labels[start : start + batch_size]
        if classes:
            total = nn.functional.cross_entropy(logits, targets, reduction="sum")
        else:
            total = nn.functional.mse_loss(logits, targets, reduction="sum") / logits.shape[1]
        (deltas,) = torch.autograd.grad(total, pre_activations, create_graph=True)
        curvatures = torch.empty_like(pre_activations)
        for j in range(hidden):
            (column,) = torch.autograd.grad(deltas[:, j].sum(), pre_activations, retain_graph=True, allow_unused=True)
            curvatures[:, j] = 0.0 if column is None else column[:, j].detach()
        deltas = deltas.detach()
        x = augmented.double()
        for j in range(hidden):
            second_moments[j] += ((x * deltas[:, j : j + 1].double() ** 2).T @ x).numpy()
            hessians[j] += ((x * curvatures[:, j : j + 1].double()).T @ x).numpy()
    return second_moments / n_samples, hessians / n_samples
