"""The fully connected network of Shwartz-Ziv & Tishby (2017) and Saxe et al. (2018)."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from ibpipe.names import OUTPUT_LAYER
from ibpipe.nn.activations import activation as get_activation
from ibpipe.nn.recording import record_modules


def hidden_layer_names(n_hidden: int) -> list[str]:
    return [f"hidden{i}" for i in range(1, n_hidden + 1)]


class GaussianNoise(nn.Module):
    """T = S + Z, Z ~ N(0, std^2 I), in training and in evaluation alike (Goldfeld et al., ICML 2019):
    the noise is part of the network, not a regulariser. Draws from torch's global generator."""

    def __init__(self, std: float):
        super().__init__()
        self.std = float(std)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return values + self.std * torch.randn_like(values)

    def extra_repr(self) -> str:
        return f"std={self.std}"


class MLP(nn.Module):
    """Dense layers of the given widths, then a linear read-out of ``n_classes`` logits.

    Weights start truncated-normal with std 1/sqrt(fan_in) (cut at two std), biases at 0,
    as in the published code. ``forward`` returns logits; ``record`` returns every hidden
    layer after its nonlinearity and the softmax output, in forward order.

    ``noise_std`` > 0 makes it a noisy network: N(0, noise_std^2 I) is added after every hidden
    layer's nonlinearity, in training and in measurement, so ``record`` returns the noisy T;
    ``record_pre_noise`` returns the noiseless outputs S of repeated noisy passes (what the
    sample-propagation estimator reads). No parameters are added: weights are interchangeable
    with the deterministic network's.
    """

    def __init__(
        self, n_inputs: int, widths: list[int], n_classes: int, activation: str = "tanh", noise_std: float = 0.0
    ):
        super().__init__()
        nonlinearity = get_activation(activation)
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        fan_in = n_inputs
        self.noise_std = float(noise_std)
        for name, width in zip(hidden_layer_names(len(widths)), widths):
            parts = [nn.Linear(fan_in, width), nonlinearity.make()]
            blocks[name] = nn.Sequential(*parts, GaussianNoise(noise_std)) if noise_std > 0 else nn.Sequential(*parts)
            fan_in = width
        blocks[OUTPUT_LAYER] = nn.Linear(fan_in, n_classes)
        self.layers = nn.Sequential(blocks)
        self.reset_parameters()

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers._modules)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                std = 1.0 / math.sqrt(module.in_features)
                nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
                nn.init.zeros_(module.bias)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs.flatten(1))

    @torch.no_grad()
    def record(self, inputs: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Activations of every layer for ``inputs``; the output layer as softmax probabilities."""
        layers = OrderedDict((name, f"layers.{name}") for name in self.layer_names)
        return record_modules(self, inputs.flatten(1), layers, softmax_layer=OUTPUT_LAYER)

    @torch.no_grad()
    def record_pre_noise(self, inputs: torch.Tensor, n_draws: int) -> OrderedDict[str, torch.Tensor]:
        """Noiseless outputs S (after the nonlinearity, before the layer's own noise) of every hidden layer
        in ``n_draws`` independent noisy forward passes: {layer: (n_samples, n_draws, n_units)}."""
        hidden = [name for name in self.layer_names if name != OUTPUT_LAYER]
        layers = OrderedDict((name, f"layers.{name}.1") for name in hidden)
        passes = [record_modules(self, inputs.flatten(1), layers) for _ in range(n_draws)]
        return OrderedDict((name, torch.stack([recorded[name] for recorded in passes], dim=1)) for name in hidden)
