"""What a forward hook records of any torch module: the layers chosen by name or glob, the one tensor picked
from each module's output (tuple, dict, ``ModelOutput``), tokens pooled, in probe passes that leave the model's
train/eval flags and RNG states as they were. ``ibpipe.Recorder`` and the pipeline's ``RecordedModel`` both
record through these.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ibpipe.errors import InputError

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
            raw = hooked_forward(model, batch, layers)
            rows = min(batch_size, n_rows - start)
            for path, layer in layers.items():
                tensor = select_output(layer, raw[path], rows)
                parts[path].append(tensor.detach().float().cpu().reshape(len(tensor), -1).numpy())
    return {path: np.concatenate(chunks) for path, chunks in parts.items()}


def hooked_forward(model: nn.Module, batch: Any, layers: Mapping[str, LayerOutput]) -> dict[str, Any]:
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
        raw = hooked_forward(model, input_rows(inputs, slice(0, rows), device, dtype), layers)
        selected = {path: select_output(layer, raw[path], rows) for path, layer in layers.items()}
    return {path: (len(tensor) // rows, tuple(tensor.shape[1:])) for path, tensor in selected.items()}
