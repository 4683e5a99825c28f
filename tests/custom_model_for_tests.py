"""A user-style model factory that the custom-model tests import by path."""

from torch import nn


def make_net(hidden: int = 5):
    return nn.Sequential(nn.Flatten(), nn.Linear(12, hidden), nn.Tanh(), nn.Linear(hidden, 2))


def not_a_module():
    return 42
