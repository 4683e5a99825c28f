"""User-style model factories that the custom-model tests import by path."""

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
