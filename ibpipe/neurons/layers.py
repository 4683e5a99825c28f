"""Which neurons of a one-hidden-layer net are the neuron set: the hidden units or the read-out units.

A neuron of either layer is the vector of its incoming weights followed by its bias, theta_j in R^p.
Its pre-activation on row n is z_nj = theta_j . f_n, with f_n the layer's input and a 1 appended:

- ``hidden``: f_n = (x_n, 1), p = n_in + 1; the net's outputs are ``s(z) @ w_out.T + b_out``;
- ``output`` (read-out): f_n = (s(W_in x_n + b_in), 1), p = hidden + 1; the outputs are z itself.

``LayerView`` holds the features f (N, p) and that head, so the sandwich, the variational and the
teacher-student posteriors (``ibpipe.neurons.network``, ``variational``, ``teacher``) are written
once for both layers: every one of them needs only z = f theta^T and what follows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ibpipe.nn.activations import activation as get_activation

LAYER_ROWS = {"hidden": ("w_in", "b_in"), "output": ("w_out", "b_out")}


def neuron_rows(weights: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """(..., h, fan_in + 1): each neuron's incoming weights followed by its bias."""
    weights, biases = np.asarray(weights), np.asarray(biases)
    return np.concatenate([weights, biases[..., None]], axis=-1)


def reference_rows(layers, neuron_layer: str) -> np.ndarray:
    """The reference's neurons of ``neuron_layer`` from data/bootstrap.nc (``reference_w_in`` ...)."""
    weights, biases = LAYER_ROWS[neuron_layer]
    return neuron_rows(layers[f"reference_{weights}"].values, layers[f"reference_{biases}"].values)


def replica_rows(layers, neuron_layer: str) -> np.ndarray:
    """(B, h, p): the aligned replicas' neurons of ``neuron_layer`` (read-out rows are already expressed in the
    reference's hidden units, since the alignment permutes and flips the columns of w_out)."""
    weights, biases = LAYER_ROWS[neuron_layer]
    return neuron_rows(layers[f"replica_{weights}"].values, layers[f"replica_{biases}"].values)


@dataclass(frozen=True)
class LayerView:
    """The analysed layer: its features f (N, p) float64 tensor, and ``head`` from pre-activations (..., N, h)
    to the net's outputs (..., N, o)."""

    features: torch.Tensor
    head: Callable[[torch.Tensor], torch.Tensor]

    def pre_activations(self, theta: torch.Tensor) -> torch.Tensor:
        """z = f theta^T for neurons (h, p) -> (N, h), or for samples (S, h, p) -> (S, N, h)."""
        if theta.ndim == 2:
            return self.features @ theta.T
        return torch.einsum("np,shp->snh", self.features, theta)

    def outputs(self, theta: torch.Tensor) -> torch.Tensor:
        return self.head(self.pre_activations(theta))


def layer_view(reference: tuple[np.ndarray, ...], inputs: np.ndarray, activation: str, neuron_layer: str) -> LayerView:
    """The view of ``neuron_layer`` of the net ``reference`` = (w_in, b_in, w_out, b_out) on these inputs, float64;
    the other layer stays at the reference's weights."""
    if neuron_layer not in LAYER_ROWS:
        raise ValueError(f"neuron_layer must be one of {', '.join(LAYER_ROWS)}, not {neuron_layer!r}")
    w_in, b_in, w_out, b_out = (torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in reference)
    x = torch.as_tensor(np.asarray(inputs, dtype=np.float64)).flatten(1)
    nonlinearity = get_activation(activation).make()
    ones = torch.ones(len(x), 1, dtype=torch.float64)
    if neuron_layer == "output":
        with torch.no_grad():
            hidden = nonlinearity(x @ w_in.T + b_in)
        return LayerView(torch.cat([hidden, ones], dim=1), lambda z: z)
    return LayerView(torch.cat([x, ones], dim=1), lambda z: nonlinearity(z) @ w_out.T + b_out)


def layer_inputs(reference: tuple[np.ndarray, ...], inputs: np.ndarray, activation: str, neuron_layer: str):
    """The layer's inputs (N, fan_in) without the 1: the data for ``hidden``, the hidden activations for ``output``."""
    return layer_view(reference, inputs, activation, neuron_layer).features[:, :-1].numpy()
