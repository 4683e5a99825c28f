"""Quantization-aware training of the MLP: fake quantization with straight-through gradients.

Every recorded layer is rounded onto a grid of ``2**bits`` levels per call, so each unit takes
at most ``2**bits`` values and H(T), I(X;T), I(T;Y) can be computed exactly, without binning
(Lorenzen, Igel & Nielsen, "Information Bottleneck: Exact Analysis of (Quantized) Neural
Networks", ICLR 2022).

The grid of a layer is ``low + k (high - low) / (2**bits - 1)``, k = 0 .. 2**bits - 1. Its range:

* bounded activations (tanh on [-1, 1], sigmoid on [0, 1]) and the softmax output (on [0, 1])
  use the codomain, a fixed grid. Lorenzen et al. quantize tanh over the min/max of the tensor
  in each call instead; that grid depends on which rows pass together (training batches, the
  dump's sample chunks), so a fixed grid is the one that keeps "at most 2**bits values per
  unit" true for any batching.
* unbounded activations (relu, elu, linear) use a running range, as the moving-average
  quantizer of Lorenzen et al.: an exponential moving average of each training batch's min
  and max (``momentum``), frozen in eval mode. Before the first training step (epoch 0) the
  range is that of the call itself.

Weights stay float (Lorenzen et al. quantize the weights of their ReLU layers too). The loss is
the cross-entropy of the float logits: the softmax quantizer is the last operation and its
straight-through gradient is the identity, so it would change only the loss value, not the
direction of any step.
"""

from __future__ import annotations

import torch
from torch import nn

from ibpipe.names import OUTPUT_LAYER
from ibpipe.nn.mlp import MLP
from ibpipe.nn.recording import record_modules

# Codomains of the bounded activations: their grid is fixed, independent of the data.
FIXED_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
SOFTMAX_RANGE = (0.0, 1.0)


def fake_quantize(values: torch.Tensor, low: torch.Tensor, high: torch.Tensor, levels: int) -> torch.Tensor:
    """``values`` rounded onto ``levels`` equally spaced points of [low, high]; straight-through gradient.

    Forward: low + round((clamp(v) - low) / step) * step, step = (high - low) / (levels - 1).
    Backward: the identity inside [low, high] and zero outside (the gradient of the clamp), as
    ``torch.fake_quantize_per_tensor_affine``. A zero-width range maps everything onto ``low``.
    """
    step = torch.clamp((high - low) / (levels - 1), min=torch.finfo(values.dtype).tiny)
    clamped = torch.minimum(torch.maximum(values, low), high)
    grid = low + torch.round((clamped - low) / step) * step
    return clamped + (grid - clamped).detach()


class FakeQuantize(nn.Module):
    """Fake quantization onto ``2**bits`` levels over a fixed range, or a running (EMA) range when none is given."""

    def __init__(self, bits: int, value_range: tuple[float, float] | None = None, momentum: float = 0.01):
        super().__init__()
        self.levels = 2**bits
        self.momentum = momentum
        self.running = value_range is None
        low, high = value_range or (0.0, 0.0)
        self.register_buffer("low", torch.tensor(float(low)))
        self.register_buffer("high", torch.tensor(float(high)))
        # float, not bool: every buffer is stored with the weights of each epoch
        self.register_buffer("calibrated", torch.tensor(0.0 if self.running else 1.0))

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        low, high = self.low, self.high
        if self.running:
            batch_low, batch_high = values.detach().min(), values.detach().max()
            if self.training:
                with torch.no_grad():
                    if self.calibrated.item() == 0.0:
                        self.low.copy_(batch_low)
                        self.high.copy_(batch_high)
                        self.calibrated.fill_(1.0)
                    else:
                        self.low.lerp_(batch_low, self.momentum)
                        self.high.lerp_(batch_high, self.momentum)
            elif self.calibrated.item() == 0.0:
                low, high = batch_low, batch_high
        return fake_quantize(values, low, high, self.levels)

    def extra_repr(self) -> str:
        kind = "running" if self.running else f"fixed [{self.low.item()}, {self.high.item()}]"
        return f"levels={self.levels}, range={kind}"


class QuantizedMLP(MLP):
    """The MLP with every hidden layer fake-quantized after its nonlinearity and a quantized softmax output.

    Module paths and recorded layer names are those of ``MLP`` (a hidden block gains a third
    module, its quantizer), so the pipeline records the quantized values.
    """

    def __init__(
        self,
        n_inputs: int,
        widths: list[int],
        n_classes: int,
        activation: str = "tanh",
        bits: int = 8,
        momentum: float = 0.01,
    ):
        super().__init__(n_inputs, widths, n_classes, activation)
        self.bits = bits
        for name in self.layer_names[:-1]:
            self.layers.get_submodule(name).append(FakeQuantize(bits, FIXED_RANGES.get(activation), momentum))
        self.output_quantizer = FakeQuantize(bits, SOFTMAX_RANGE)

    @torch.no_grad()
    def record(self, inputs: torch.Tensor):
        layers = {name: f"layers.{name}" for name in self.layer_names}
        recorded = record_modules(self, inputs.flatten(1), layers, softmax_layer=OUTPUT_LAYER)
        recorded[OUTPUT_LAYER] = self.output_quantizer(recorded[OUTPUT_LAYER])
        return recorded
