"""Recording the layers of any torch module by forward hooks, and building user models from an import path.

Two users: the pipeline's own networks (``record_modules``: each recorded module returns one
tensor) and ``ibpipe.Recorder`` on any model (``resolve_layers`` + ``record_outputs``): layers named
by glob over ``named_modules()``, tuple / dict / ``ModelOutput`` outputs picked by an ``output``
selector, (rows, tokens, features) outputs pooled over tokens, all in a probe pass that leaves the
model's train/eval flags and the RNG states as they were.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import importlib
import os
import sys
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
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
        raw = _hooked_forward(self.model, self.batch(inputs), paths)
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


# ---------------------------------------------------------------- recording any model

TOKEN_POOLINGS = ("mean", "last", "first", "none")
LAYER_OPTIONS = ("output", "tokens")


@dataclass(frozen=True)
class LayerOutput:
    """How one module's output becomes the recorded (rows, units...) tensor.

    ``output``: an index (tuple, list) or key (dict, ``ModelOutput``) picking one part of the
    output; ``None`` applies the default rule: a tensor as it is, else the first part that is a
    tensor with one row per input (an LSTM's ``out`` of ``(out, (h, c))``, a ``ModelOutput``'s
    first field). ``tokens``: how a (rows, tokens, features) tensor is pooled over tokens:
    ``mean``, ``last``, ``first`` (a [CLS] token), ``none`` (each token its own row); ``None``
    keeps all tokens as units (tokens x features).
    """

    path: str
    output: int | str | None = None
    tokens: str | None = None
    # The params key that chose this layer (model.layers.NAME): its fixes are then written as params.
    key: str | None = None


def resolve_layers(model: nn.Module, layers: Iterable[str] | Mapping[str, Mapping[str, Any] | None]) -> dict:
    """{module path: ``LayerOutput``} in ``named_modules()`` order for names or fnmatch globs (``block2.*``).

    ``layers`` is a list of names/globs or a dict name/glob -> options (``output``, ``tokens``;
    ``{}`` = defaults). A name or glob that matches no module raises an ``InputError`` naming it.
    """
    options = dict(layers) if isinstance(layers, Mapping) else {name: {} for name in layers}
    if not options:
        raise InputError("no layers to record: name at least one module of model.named_modules()")
    paths = [path for path, _ in model.named_modules() if path]
    chosen: dict[str, LayerOutput] = {}
    for pattern, settings in options.items():
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(LAYER_OPTIONS))
        if unknown:
            raise InputError(f"layer {pattern!r}: unknown option(s) {unknown}; known: {', '.join(LAYER_OPTIONS)}")
        tokens = settings.get("tokens")
        if tokens is not None and tokens not in TOKEN_POOLINGS:
            raise InputError(f"layer {pattern!r}: tokens = {tokens!r}; known: {', '.join(TOKEN_POOLINGS)}")
        matches = [path for path in paths if fnmatch.fnmatchcase(path, pattern)]
        if not matches:
            close = difflib.get_close_matches(pattern, paths, n=3)
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"its modules are {', '.join(paths)}"
            raise InputError(f"layer {pattern!r} is not a module of this {type(model).__name__}; {hint}")
        for path in matches:
            chosen[path] = LayerOutput(path, settings.get("output"), tokens)
    return {path: chosen[path] for path in paths if path in chosen}


def describe_output(output: Any, depth: int = 0) -> str:
    """A module output's type and shape for messages: ``tuple(Tensor(2, 12, 8), tuple(Tensor(1, 2, 8), ...))``."""
    if isinstance(output, torch.Tensor):
        return f"Tensor{tuple(output.shape)}"
    if depth > 2:
        return type(output).__name__
    if isinstance(output, Mapping):
        inner = ", ".join(f"{key!r}: {describe_output(value, depth + 1)}" for key, value in output.items())
        return f"{type(output).__name__}{{{inner}}}"
    if isinstance(output, tuple | list):
        return f"{type(output).__name__}({', '.join(describe_output(value, depth + 1) for value in output)})"
    return type(output).__name__


def select_output(layer: LayerOutput, output: Any, n_rows: int) -> torch.Tensor:
    """The recorded tensor (rows, units...) of one module output: selected, checked and pooled over tokens."""
    tensor = _selected(layer, output, n_rows)
    if tensor.ndim < 1 or tensor.shape[0] != n_rows:
        raise _unrecordable(
            layer,
            output,
            f"its first dim is not the input rows ({n_rows} in this batch; a sequence-first output? build the "
            "module with batch_first=True)",
        )
    if tensor.ndim == 1:
        tensor = tensor[:, None]
    if layer.tokens is None:
        return tensor
    if tensor.ndim != 3:
        why = f"tokens = {layer.tokens!r} pools a (rows, tokens, features) output"
        raise _unrecordable(layer, output, why, fix=f"leave 'tokens' out for {layer.key or f'layer {layer.path!r}'}")
    if layer.tokens == "mean":
        return tensor.mean(dim=1)
    if layer.tokens == "first":
        return tensor[:, 0]
    if layer.tokens == "last":
        return tensor[:, -1]
    return tensor.reshape(-1, tensor.shape[-1])  # none: one row per (input row, token), input-row major


def _selected(layer: LayerOutput, output: Any, n_rows: int) -> torch.Tensor:
    if layer.output is not None and isinstance(output, torch.Tensor):
        fix = f"leave 'output' out for {layer.key or f'layer {layer.path!r}'}"
        raise _unrecordable(layer, output, f"output = {layer.output!r} picks a part, but it is one tensor", fix=fix)
    if layer.output is not None:
        try:
            part = output[layer.output]
        except (IndexError, KeyError, TypeError):
            raise _unrecordable(layer, output, f"output = {layer.output!r} is not one of its parts") from None
        if isinstance(part, torch.Tensor):
            return part
        raise _unrecordable(layer, output, f"its part {layer.output!r} is {describe_output(part)}, not a tensor")
    if isinstance(output, torch.Tensor):
        return output
    parts = output.values() if isinstance(output, Mapping) else output if isinstance(output, tuple | list) else ()
    parts = list(parts)
    for part in parts:
        if isinstance(part, torch.Tensor) and part.ndim >= 1 and part.shape[0] == n_rows:
            return part
    if any(isinstance(part, torch.Tensor) and part.ndim >= 2 and part.shape[1] == n_rows for part in parts):
        why = f"no part of it has the {n_rows} input rows first, one has them second (a sequence-first output)"
        raise _unrecordable(layer, output, why, fix="build the module with batch_first=True")
    raise _unrecordable(layer, output, "no part of it is a tensor with one row per input")


def _unrecordable(layer: LayerOutput, output: Any, why: str, fix: str | None = None) -> InputError:
    """The error for an output that cannot be recorded: the layer, its output's type and shape, and the fix."""
    if fix is not None:
        pass
    elif isinstance(output, Mapping):
        keys = [key for key, part in output.items() if isinstance(part, torch.Tensor) and part.ndim >= 1]
        fix = f"pick a part by key, e.g. {_choice(layer, 'output', next(iter(keys or output), 'KEY'))}"
    elif isinstance(output, tuple | list):
        fix = f"pick a part by index, e.g. {_choice(layer, 'output', 0)}"
    elif isinstance(output, torch.Tensor) and output.ndim == 3:
        poolings = "mean, last, first" if layer.key else "mean, last, first, none"
        fix = f"pool its tokens, e.g. {_choice(layer, 'tokens', 'mean')} ({poolings})"
    else:
        fix = "record a module whose output is a tensor with the input rows first"
    where = f"{layer.key} (module {layer.path!r})" if layer.key else f"layer {layer.path!r}"
    return InputError(f"{where} cannot be recorded: its output is {describe_output(output)}; {why}; {fix}")


def _choice(layer: LayerOutput, option: str, value: Any) -> str:
    """How a user sets ``option`` for ``layer``: in params.yaml for a pipeline layer, else as a Recorder argument."""
    if layer.key:
        return f"{layer.key}: {{module: {layer.path}, {option}: {value}}} in params.yaml"
    return f"layers={{{layer.path!r}: {{{option!r}: {value!r}}}}}"


@contextlib.contextmanager
def probing(model: nn.Module) -> Iterator[None]:
    """Eval mode, no autograd, and on exit every module's ``training`` flag and the CPU/CUDA RNG states
    as they were: a probe pass leaves training exactly where it was (no BatchNorm statistics updated,
    no dropout draw taken from the training's random stream)."""
    flags = [(module, module.training) for module in model.modules()]
    cpu_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in flags:
            module.training = training
        torch.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def n_input_rows(inputs: Any) -> int:
    """Rows of a probe batch: a tensor's first dim, or that of the first tensor of a tuple or dict."""
    if isinstance(inputs, torch.Tensor):
        return int(inputs.shape[0])
    parts = list(inputs.values()) if isinstance(inputs, Mapping) else list(inputs)
    return int(parts[0].shape[0])


def input_rows(inputs: Any, rows: slice, device: torch.device | None, dtype: torch.dtype | None) -> Any:
    """Rows ``rows`` of a tensor, tuple or dict of tensors, on the model's device (floats in its dtype)."""
    if isinstance(inputs, Mapping):
        return {key: input_rows(value, rows, device, dtype) for key, value in inputs.items()}
    if isinstance(inputs, tuple | list):
        return type(inputs)(input_rows(value, rows, device, dtype) for value in inputs)
    part = inputs[rows]
    floating = dtype if part.is_floating_point() and dtype is not None else None
    return part.to(device=device, dtype=floating) if device is not None or floating is not None else part


def call_model(model: nn.Module, batch: Any) -> Any:
    """``model(batch)``, ``model(*batch)`` for a tuple, ``model(**batch)`` for a dict."""
    if isinstance(batch, Mapping):
        return model(**batch)
    if isinstance(batch, tuple | list):
        return model(*batch)
    return model(batch)


def record_outputs(
    model: nn.Module, inputs: Any, layers: Mapping[str, LayerOutput], batch_size: int = 1024
) -> dict[str, np.ndarray]:
    """{module path: float32 (rows, units)} of ``inputs`` (tensor, tuple or dict of tensors) in probe passes
    of at most ``batch_size`` rows; see ``probing`` for what is left untouched. A module run several times
    in one forward pass keeps its last output."""
    first = next(iter(model.parameters()), None)
    device, dtype = (None, None) if first is None else (first.device, first.dtype)
    n_rows = n_input_rows(inputs)
    parts: dict[str, list[np.ndarray]] = {path: [] for path in layers}
    with probing(model):
        for start in range(0, n_rows, batch_size):
            batch = input_rows(inputs, slice(start, min(start + batch_size, n_rows)), device, dtype)
            raw = _hooked_forward(model, batch, layers)
            rows = min(batch_size, n_rows - start)
            for path, layer in layers.items():
                tensor = select_output(layer, raw[path], rows)
                parts[path].append(tensor.detach().float().cpu().reshape(len(tensor), -1).numpy())
    return {path: np.concatenate(chunks) for path, chunks in parts.items()}


def _hooked_forward(model: nn.Module, batch: Any, layers: Mapping[str, LayerOutput]) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    handles = [
        model.get_submodule(path).register_forward_hook(
            lambda _module, _inputs, output, path=path: outputs.__setitem__(path, output)
        )
        for path in layers
    ]
    try:
        call_model(model, batch)
    finally:
        for handle in handles:
            handle.remove()
    missing = [path for path in layers if path not in outputs]
    if missing:
        raise InputError(f"layers {missing} were not run by the model's forward pass; record modules that it calls")
    return outputs


# Rows of the construction-time check: several, so a batch-size-like dim is rarely mistaken for the rows.
PROBE_CHECK_ROWS = 8


def output_shapes(
    model: nn.Module, inputs: Any, layers: Mapping[str, LayerOutput]
) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Per layer (recorded rows per input row, shape of one recorded row), read off a probe pass of the first
    ``PROBE_CHECK_ROWS`` input rows: (1, shape), or (tokens, (features,)) for a per-token layer (``tokens: none``).
    Raises the recordability errors, so a bad layer fails before any training."""
    rows = min(PROBE_CHECK_ROWS, n_input_rows(inputs))
    first = next(iter(model.parameters()), None)
    device, dtype = (None, None) if first is None else (first.device, first.dtype)
    with probing(model):
        raw = _hooked_forward(model, input_rows(inputs, slice(0, rows), device, dtype), layers)
        selected = {path: select_output(layer, raw[path], rows) for path, layer in layers.items()}
    return {path: (len(tensor) // rows, tuple(tensor.shape[1:])) for path, tensor in selected.items()}


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
