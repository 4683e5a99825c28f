"""Convolutional networks for image data: the thesis CNN for MNIST and a small one for 8x8 digits."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ibpipe.nn.recording import record_modules


def _conv_block(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool2d(2))


class RecordedCNN(nn.Module):
    """Two conv blocks (conv, ReLU, 2x2 max pool) and a linear read-out; records z1, z2 and the softmax output."""

    recorded_modules = OrderedDict(z1="block1", z2="block2", output="head")

    def __init__(self, in_channels: int, channels: tuple[int, int], kernel: int, image_size: int, n_classes: int = 10):
        super().__init__()
        self.block1 = _conv_block(in_channels, channels[0], kernel)
        self.block2 = _conv_block(channels[0], channels[1], kernel)
        self.head = nn.Linear(channels[1] * (image_size // 4) ** 2, n_classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.block2(self.block1(inputs)).flatten(1))

    @torch.no_grad()
    def record(self, inputs: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return record_modules(self, inputs, self.recorded_modules, softmax_layer="output")


def thesis_cnn(n_classes: int = 10) -> RecordedCNN:
    """The thesis network on 28x28 MNIST: conv 1->16 5x5 pad 2, ReLU, max pool 2 -> z1 (16, 14, 14);
    conv 16->32 5x5 pad 2, ReLU, max pool 2 -> z2 (32, 7, 7); linear 1568 -> 10 -> output."""
    return RecordedCNN(1, (16, 32), 5, 28, n_classes)


def digits_cnn(n_classes: int = 10) -> RecordedCNN:
    """The same shape scaled to 8x8 digits: conv 1->8 3x3 -> z1 (8, 4, 4); conv 8->16 3x3 -> z2 (16, 2, 2);
    linear 64 -> 10."""
    return RecordedCNN(1, (8, 16), 3, 8, n_classes)
