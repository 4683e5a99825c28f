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

from ibpipe.neurons.layers import LayerView, layer_view, neuron_rows
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
    ``ibpipe.neurons.sandwich_from_moments``. Returned in float64.
    """
    reference = tuple(a.astype(np.float64) for a in layer_arrays(net))
    return layer_sandwich_terms(reference, inputs, labels, net.activation, "hidden", loss, batch_size)


def layer_sandwich_terms(
    reference: tuple[np.ndarray, ...],
    inputs,
    targets,
    activation: str,
    neuron_layer: str,
    loss: str = "cross_entropy",
    batch_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """``hidden_sandwich_terms`` for the neurons of ``neuron_layer`` (``hidden`` or ``output``) of the net
    ``reference`` = (w_in, b_in, w_out, b_out)."""
    view = layer_view(reference, inputs, activation, neuron_layer)
    rows = torch.as_tensor(neuron_rows(*reference[:2] if neuron_layer == "hidden" else reference[2:]))
    classes = loss == "cross_entropy"
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.long if classes else torch.float64)

    def summed_loss(outputs: torch.Tensor, batch_targets: torch.Tensor) -> torch.Tensor:
        if classes:
            return nn.functional.cross_entropy(outputs, batch_targets, reduction="sum")
        return nn.functional.mse_loss(outputs, batch_targets, reduction="sum") / outputs.shape[1]

    second_moments, hessians = block_terms(view, rows, targets, summed_loss, batch_size)
    return second_moments / len(targets), hessians / len(targets)


def block_terms(view: LayerView, rows: torch.Tensor, targets: torch.Tensor, summed_loss, batch_size: int = 4096):
    """(sum_n delta_nj^2 f_n f_n^T, sum_n c_nj f_n f_n^T), each (h, p, p) float64, for a loss
    ``summed_loss(outputs, targets)`` = sum_n L_n: delta_nj = dL_n/dz_nj and c_nj = d^2 L_n / dz_nj^2.

    Since z_nj = theta_j . f_n is linear in theta_j, the second sum is neuron j's exact Hessian block
    and the first the sum of its per-row gradients' outer products; neither the per-row gradients nor
    the full Hessian is stored (one backward pass per neuron).
    """
    hidden, p = rows.shape
    second_moments, hessians = np.zeros((hidden, p, p)), np.zeros((hidden, p, p))
    for start in range(0, len(targets), batch_size):
        features = view.features[start : start + batch_size]
        pre_activations = (features @ rows.T).detach().requires_grad_(True)
        batch_view = LayerView(features, view.head)
        total = summed_loss(batch_view.head(pre_activations), targets[start : start + batch_size])
        (deltas,) = torch.autograd.grad(total, pre_activations, create_graph=True)
        curvatures = torch.empty_like(pre_activations)
        for j in range(hidden):
            if not deltas.requires_grad:
                curvatures[:, j] = 0.0
                continue
            (column,) = torch.autograd.grad(deltas[:, j].sum(), pre_activations, retain_graph=True, allow_unused=True)
            curvatures[:, j] = 0.0 if column is None else column[:, j].detach()
        deltas = deltas.detach()
        x = features.double()
        for j in range(hidden):
            second_moments[j] += ((x * deltas[:, j : j + 1] ** 2).T @ x).numpy()
            hessians[j] += ((x * curvatures[:, j : j + 1]).T @ x).numpy()
    return second_moments, hessians
