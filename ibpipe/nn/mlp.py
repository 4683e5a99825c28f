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


class MLP(nn.Module):
    """Dense layers of the given widths, then a linear read-out of ``n_classes`` logits.

    Weights start truncated-normal with std 1/sqrt(fan_in) (cut at two std), biases at 0,
    as in the published code. ``forward`` returns logits; ``record`` returns every hidden
    layer after its nonlinearity and the softmax output, in forward order.
    """

    def __init__(self, n_inputs: int, widths: list[int], n_classes: int, activation: str = "tanh"):
        super().__init__()
        nonlinearity = get_activation(activation)
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        fan_in = n_inputs
        for name, width in zip(hidden_layer_names(len(widths)), widths):
            blocks[name] = nn.Sequential(nn.Linear(fan_in, width), nonlinearity.make())
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
