"""Recording the layers of any torch module by forward hooks, and building user models from an import path."""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ibpipe.errors import InputError


@torch.no_grad()
def record_modules(
    model: nn.Module, inputs: torch.Tensor, layers: Mapping[str, str], softmax_layer: str | None = None
) -> OrderedDict[str, torch.Tensor]:
    """Outputs of the submodules ``layers`` (layer name -> module path) for one forward pass of ``inputs``.

    ``softmax_layer`` names the layer whose output is logits, recorded as probabilities.
    """
    recorded: OrderedDict[str, torch.Tensor] = OrderedDict((name, None) for name in layers)
    handles = []
    for name, path in layers.items():
        try:
            module = model.get_submodule(path)
        except AttributeError as error:
            known = ", ".join(name for name, _ in model.named_modules() if name)
            raise InputError(
                f"layer {name!r}: the model has no submodule {path!r}; its submodules are {known}"
            ) from error
        handles.append(
            module.register_forward_hook(
                lambda _module, _inputs, output, name=name: recorded.__setitem__(name, output.detach())
            )
        )
    try:
        model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name, value in recorded.items() if value is None]
    if missing:
        raise InputError(f"layers {missing} were not reached by the forward pass")
    if softmax_layer is not None:
        recorded[softmax_layer] = torch.softmax(recorded[softmax_layer], dim=1)
    return recorded


def build_custom(import_path: str, kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """The module returned by ``package.module:factory(**kwargs)``."""
    module_name, separator, factory_name = import_path.partition(":")
    if not separator or not module_name or not factory_name:
        raise InputError(f"model factory {import_path!r} must look like 'package.module:factory'")
    # Stages run from the project directory, where a user's own module usually lives.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    factory = _factory(import_path, module_name, factory_name)
    model = factory(**dict(kwargs or {}))
    if not isinstance(model, nn.Module):
        raise InputError(f"{import_path!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _factory(import_path: str, module_name: str, factory_name: str, key: str = "model.factory"):
    """The factory function, or an ``InputError`` naming ``key``, the module or the attribute that was not found."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and not module_name.startswith(error.name):
            raise  # the user's module itself imports something that is missing: its own traceback says what
        raise InputError(
            f"{key} = {import_path!r}: module {error.name!r} was not found "
            f"(looked in the project directory {os.getcwd()} and on sys.path)"
        ) from None
    if not hasattr(module, factory_name):
        defined = [name for name in dir(module) if not name.startswith("_") and callable(getattr(module, name))]
        close = difflib.get_close_matches(factory_name, defined, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f"; it defines {', '.join(defined)}"
        raise InputError(
            f"{key} = {import_path!r}: module {module_name!r} ({getattr(module, '__file__', '?')}) "
            f"has no attribute {factory_name!r}{hint}"
        )
    return getattr(module, factory_name)


class RecordedModel(nn.Module):
    """A user's module with the layers to record named by module path; the last can be softmaxed."""

    def __init__(self, model: nn.Module, layers: Mapping[str, str], softmax_layer: str | None = None):
        super().__init__()
        self.model = model
        self.layers = OrderedDict(layers)
        self.softmax_layer = softmax_layer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs)

    @torch.no_grad()
    def record(self, inputs: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return record_modules(self.model, inputs, self.layers, self.softmax_layer)
