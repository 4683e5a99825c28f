"""The pipeline's recorded networks, user models built from an import path, and when a loop records.

``record_modules`` and ``RecordedModel`` record the pipeline's own networks (each recorded module
returns one tensor, or an output picked as ``ibpipe.nn.layer_outputs`` picks it for any model);
``build_custom`` builds a ``model.factory`` with errors that name the params key; ``epoch_rule``
says which epochs a loop records ("log", "every", every n-th, a list, a function).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ibpipe.errors import InputError
from ibpipe.nn.layer_outputs import LayerOutput, call_model, describe_output, hooked_forward, select_output


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
    try:
        model = factory(**dict(kwargs or {}))
    except Exception as error:
        raise InputError(
            f"model.factory = {import_path!r}: calling it with model.kwargs {dict(kwargs or {})} raised "
            f"{_where(error)}; fix the factory or its kwargs (IBPIPE_DEBUG=1 shows the traceback)"
        ) from error
    if not isinstance(model, nn.Module):
        raise InputError(f"{import_path!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _factory(import_path: str, module_name: str, factory_name: str, key: str = "model.factory"):
    """The factory function, or an ``InputError`` naming ``key``, the module or the attribute that was not found."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and not module_name.startswith(error.name):
            # the user's module itself imports something that is missing
            raise InputError(
                f"{key} = {import_path!r}: importing module {module_name!r} failed: {_where(error)}; install what "
                "it imports or fix that import"
            ) from error
        raise InputError(
            f"{key} = {import_path!r}: module {error.name!r} was not found "
            f"(looked in the project directory {os.getcwd()} and on sys.path)"
        ) from None
    except Exception as error:  # a SyntaxError, or code at the module's top level that raises
        raise InputError(
            f"{key} = {import_path!r}: importing module {module_name!r} failed: {_where(error)}; fix that module "
            "(IBPIPE_DEBUG=1 shows the traceback)"
        ) from error
    if not hasattr(module, factory_name):
        defined = [name for name in dir(module) if not name.startswith("_") and callable(getattr(module, name))]
        close = difflib.get_close_matches(factory_name, defined, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else f"; it defines {', '.join(defined)}"
        raise InputError(
            f"{key} = {import_path!r}: module {module_name!r} ({getattr(module, '__file__', '?')}) "
            f"has no attribute {factory_name!r}{hint}"
        )
    return getattr(module, factory_name)


def _where(error: Exception) -> str:
    """``Type: message (file:line)`` of an exception, at the innermost frame of its traceback."""
    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, SyntaxError) and error.filename:
        place = f" ({error.filename}:{error.lineno})"
    else:
        place = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{place}"


class RecordedModel(nn.Module):
    """A user's module with the layers to record named by module path; the last can be softmaxed.

    ``layers`` maps a layer name to a module path, or to ``{module: path, output: ..., tokens: ...}``
    (the ``Recorder``'s ``output`` selector and ``tokens`` pooling, ``LayerOutput``). ``inputs`` is the
    layout of a dataset whose rows hold several tensors (``pack_inputs``): the flat float rows are cut
    back into the tuple (``model(*parts)``) or dict (``model(**parts)``) the user's ``forward`` takes.
    The model's output is its logits: a (rows, classes) tensor, or the ``logits`` of a dict/``ModelOutput``.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Mapping[str, str | Mapping[str, Any]],
        softmax_layer: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.model = model
        self.layers = OrderedDict((name, params_layer(name, choice)) for name, choice in layers.items())
        self.softmax_layer = softmax_layer
        self.input_layout = dict(inputs) if inputs else None
        # Weights stored by ``ibpipe.Recorder`` are the user's network's own (no "model." prefix): accept both.
        self._register_load_state_dict_pre_hook(_add_model_prefix, with_module=True)

    def batch(self, inputs: torch.Tensor) -> Any:
        """What the user's ``forward`` takes: ``inputs`` itself, or its tuple/dict of tensors."""
        return inputs if self.input_layout is None else unpack_inputs(inputs, self.input_layout)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return logits_of(call_model(self.model, self.batch(inputs)))

    @torch.no_grad()
    def record(self, inputs: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        for layer in self.layers.values():
            _submodule(self.model, layer)
        paths = {layer.path: layer for layer in self.layers.values()}
        raw = hooked_forward(self.model, self.batch(inputs), paths)
        recorded = OrderedDict(
            (name, select_output(layer, raw[layer.path], len(inputs)).detach()) for name, layer in self.layers.items()
        )
        if self.softmax_layer is not None:
            recorded[self.softmax_layer] = torch.softmax(recorded[self.softmax_layer].flatten(1), dim=1)
        return recorded


def _add_model_prefix(module: RecordedModel, state: dict, prefix: str, *_: Any) -> None:
    """Rename a bare network's state_dict keys (``fc.weight``) to the wrapper's (``model.fc.weight``), in place,
    when they are exactly the bare network's keys."""
    bare = set(module.model.state_dict())
    keys = [key for key in state if key.startswith(prefix)]
    if {key[len(prefix) :] for key in keys} != bare or not bare:
        return
    for key in keys:
        state[f"{prefix}model.{key[len(prefix) :]}"] = state.pop(key)


def params_layer(name: str, choice: str | Mapping[str, Any]) -> LayerOutput:
    """The ``LayerOutput`` of one ``model.layers`` entry: a module path, or {module, output, tokens}."""
    if isinstance(choice, str):
        return LayerOutput(choice, key=f"model.layers.{name}")
    return LayerOutput(str(choice["module"]), choice.get("output"), choice.get("tokens"), key=f"model.layers.{name}")


def _submodule(model: nn.Module, layer: LayerOutput) -> nn.Module:
    """The module at ``layer.path``, or an ``InputError`` naming the params key, the path and close matches."""
    try:
        return model.get_submodule(layer.path)
    except AttributeError:
        paths = [path for path, _ in model.named_modules() if path]
        close = difflib.get_close_matches(layer.path, paths, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"its modules are {', '.join(paths)}"
        raise InputError(
            f"{layer.key or 'layer'} = {layer.path!r} is not a module of this {type(model).__name__}; {hint}"
        ) from None


def logits_of(output: Any) -> torch.Tensor:
    """The logits of a model's output: a tensor, or the ``logits`` part of a dict or ``ModelOutput``."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and isinstance(output.get("logits"), torch.Tensor):
        return output["logits"]
    raise InputError(
        f"the model's forward returns {describe_output(output)}; the pipeline trains on logits: return the "
        "(rows, classes) logits tensor from forward, or a dict / ModelOutput whose 'logits' holds it"
    )


# ---------------------------------------------------------------- inputs of several tensors


def unpack_inputs(inputs: torch.Tensor, layout: Mapping[str, Any]) -> Any:
    """The tuple or dict of tensors that ``pack_inputs`` (ibpipe.data.arrays) flattened side by side into ``inputs``.

    Integer and boolean parts come back in their dtype (they were stored exactly: integers below 2**24).
    """
    rows, start, parts = len(inputs), 0, []
    flat = inputs.reshape(rows, -1)
    for part in layout["parts"]:
        shape = tuple(part["shape"])
        width = int(np.prod(shape, dtype=np.int64))
        values = flat[:, start : start + width].reshape(rows, *shape)
        start += width
        dtype = getattr(torch, part["dtype"])
        parts.append(values if dtype == values.dtype else values.round().to(dtype))
    if layout["kind"] == "dict":
        return {part["name"]: value for part, value in zip(layout["parts"], parts)}
    return tuple(parts)


def describe_layout(layout: Mapping[str, Any] | None, rows: int) -> str:
    """A dataset's batch structure for messages: ``(Tensor(8, 5), Tensor(8, 3))`` or ``{'a': Tensor(8, 5), ...}``."""
    if layout is None:
        return "one tensor"
    keyed = layout["kind"] == "dict"
    parts = [f"{repr(part['name']) + ': ' if keyed else ''}Tensor{(rows, *part['shape'])}" for part in layout["parts"]]
    return ("{" + ", ".join(parts) + "}") if layout["kind"] == "dict" else "(" + ", ".join(parts) + ")"


# ---------------------------------------------------------------- when to record

# "log": epochs floor(2 ** (k / LOG_POINTS_PER_DOUBLING)) - 1, k = 0, 1, 2, ...: the formula of the
# select stage's log schedule with a fixed density instead of one fitted to a known last epoch,
# so a loop that does not say how long it runs gets the same dense-early, sparse-late epochs.
LOG_POINTS_PER_DOUBLING = 4


def log_epochs(last: int, points_per_doubling: int = LOG_POINTS_PER_DOUBLING) -> np.ndarray:
    """The ``log`` schedule's epochs up to ``last``: 0..5, 7, 8, 10, 12, 15, 18, 21, 25, 31, ... (4 per doubling)."""
    n_points = int(np.ceil(points_per_doubling * np.log2(last + 2))) + 1
    points = np.floor(2.0 ** (np.arange(n_points) / points_per_doubling) + 1e-9).astype(np.int64) - 1
    return np.unique(points[points <= last])


def epoch_rule(schedule: Any) -> Callable[[int], bool]:
    """Whether an epoch is recorded under ``schedule``: "log", "every", an integer n (every n-th epoch),
    a collection of epochs, or a function epoch -> bool."""
    if schedule == "log":
        return lambda epoch: epoch >= 0 and epoch in set(log_epochs(epoch).tolist())
    if schedule == "every":
        return lambda epoch: True
    if isinstance(schedule, int | np.integer) and not isinstance(schedule, bool) and schedule >= 1:
        return lambda epoch: epoch % int(schedule) == 0
    if callable(schedule):
        return lambda epoch: bool(schedule(epoch))
    if isinstance(schedule, Iterable) and not isinstance(schedule, str):
        chosen = {int(epoch) for epoch in schedule}
        return lambda epoch: epoch in chosen
    raise InputError(
        f"schedule = {schedule!r}; use 'log', 'every', an integer n >= 1 (every n-th epoch), "
        "a list of epochs, or a function epoch -> bool"
    )
