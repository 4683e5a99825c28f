"""The one table of activation functions: config validation, every network and neuron alignment read it.

torch is imported only when a module or function is asked for, so the params checks stay light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Activation:
    """A nonlinearity by name: its torch module class (by attribute name) and whether it is odd.

    An odd activation (f(-z) = -f(z)) lets a neuron flip the sign of all its weights and still
    compute the same function up to sign, so neuron alignment may match anti-correlated neurons.
    """

    module: str
    odd: bool
    doc: str

    def make(self):
        """A fresh ``torch.nn`` module of this nonlinearity."""
        from torch import nn

        return getattr(nn, self.module)()

    def function(self) -> Callable:
        """The nonlinearity as a plain callable on tensors."""
        return self.make()


ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("Tanh", odd=True, doc="hyperbolic tangent, saturating in [-1, 1]"),
    "relu": Activation("ReLU", odd=False, doc="max(0, z), unbounded above"),
    "sigmoid": Activation("Sigmoid", odd=False, doc="logistic 1 / (1 + e^-z), in (0, 1)"),
    "linear": Activation("Identity", odd=True, doc="no nonlinearity"),
    "elu": Activation("ELU", odd=False, doc="z for z > 0, e^z - 1 otherwise (the autoencoders' default)"),
}


def activation(name: str) -> Activation:
    """The registered activation ``name``; a ValueError lists the known ones."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} is not one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]
