"""User-style model factories that the custom-model tests import by path."""

import torch
from torch import nn


def make_net(hidden: int = 5):
    return nn.Sequential(nn.Flatten(), nn.Linear(12, hidden), nn.Tanh(), nn.Linear(hidden, 2))


def make_image_net(channels: int = 4, n_classes: int = 10):
    """A small conv net for 1x8x8 digits whose conv block the pipeline records as (channels, 4, 4)."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 16, n_classes),
    )


def not_a_module():
    return 42


class DoublingGain(nn.Module):
    """Multiplies its input by a gain that grows ``factor``-fold on every training forward pass.

    A stand-in for a training run that diverges: in float32 the gain overflows to inf after
    log(3.4e38) / log(factor) steps, the loss becomes NaN and Adam turns every weight NaN.
    """

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor
        self.gain = nn.Parameter(torch.ones(()))

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                self.gain.mul_(self.factor)
        return x * self.gain


def make_diverging_net(hidden: int = 6, factor: float = 8.0):
    return nn.Sequential(nn.Flatten(), nn.Linear(12, hidden), nn.Tanh(), nn.Linear(hidden, 2), DoublingGain(factor))
