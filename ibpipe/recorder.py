"""``Recorder``: weights and layer activations of any torch model, recorded inside the user's own training loop.

It writes the stores the pipeline's ``train`` and ``dump-activations`` stages write
(``<store>/weights.zarr``, ``<store>/activations.zarr``), so ``reduce``, ``estimate`` and the stages
after them read a recorded run unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ibpipe.errors import InputError
from ibpipe.io.recorded import GrowingActivations, GrowingWeights
from ibpipe.nn.layer_outputs import n_input_rows, output_shapes, record_outputs, resolve_layers
from ibpipe.nn.recording import epoch_rule

WEIGHTS_STORE = "weights.zarr"
ACTIVATIONS_STORE = "activations.zarr"


class Recorder:
    """Record ``model`` at the epochs of ``schedule``: its weights, and the outputs of ``layers`` on probe rows.

    Parameters
    ----------
    model : the ``torch.nn.Module`` being trained (any device and dtype).
    layers : module names or fnmatch globs over ``model.named_modules()`` (``["block1", "block2.*"]``),
        or a dict name -> options: ``output`` (index or key into a tuple, dict or ``ModelOutput``
        output) and ``tokens`` (``mean``, ``last``, ``first``, ``none``: pooling of a (rows, tokens,
        features) output; ``none`` makes each token a row). ``{}`` means the defaults: a tensor
        output as it is, else its first part that is a tensor with one row per input.
    inputs : (rows, ...) probe inputs: a tensor, a tuple of tensors (``model(*inputs)``) or a dict
        of tensors (``model(**inputs)``).
    labels : (rows,) class index of each probe row.
    store : folder that receives ``weights.zarr`` and ``activations.zarr`` (a path or fsspec URL).
    schedule : "log" (every epoch up to 5, then ~4 per doubling of the epoch: 7, 8, 10, 12, 15, ...),
        "every", an integer n (every n-th epoch), a list of epochs, or a function epoch -> bool.
        With "log" or n, ``close`` also records the last epoch stepped when the schedule skipped it.
    batch_size : probe rows per forward pass.
    factory : optional import path ``package.module:function`` returning a fresh network like ``model``
        (``factory_kwargs`` its keyword arguments). With it, the weights store says how to rebuild the
        network, so the pipeline's ``select`` (delta-skip), ``dump-activations`` and ``probes`` stages
        run on the recorded weights as on their own (record every epoch for delta-skip).

    Notes
    -----
    Each recording runs under ``torch.no_grad()`` with the model in eval mode, then puts back every
    module's ``training`` flag and the CPU and CUDA RNG states, and never touches the optimiser, so
    training goes on exactly as without the recorder (bitwise-equal weights). Activations are stored
    as float32. Every layer is checked against a few probe rows here, so a layer whose output cannot be
    recorded fails before training with its output's type and shape and the fix. The stores appear
    at ``store`` only on ``close`` (or leaving a ``with`` block without an error).

    ``step(epoch)`` labels the record with ``epoch``; the pipeline's convention is epoch 0 for the
    initial network (``rec.step(0)`` before training) and epoch e after e passes.
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Iterable[str] | Mapping[str, Mapping[str, Any] | None],
        inputs: Any,
        labels: Any,
        store: str | Path,
        schedule: Any = "log",
        *,
        batch_size: int = 1024,
        factory: str | None = None,
        factory_kwargs: Mapping[str, Any] | None = None,
    ):
        self.model = model
        self.layers = resolve_layers(model, layers)
        self.inputs = inputs
        self.labels = _labels(labels, n_input_rows(inputs))
        self.store = str(store).rstrip("/")
        self.schedule = schedule
        self.batch_size = int(batch_size)
        self._records = epoch_rule(schedule)
        self._ends_on_last = schedule == "log" or isinstance(schedule, int | np.integer)
        probed = output_shapes(model, inputs, self.layers)
        shapes = {path: shape for path, (_, shape) in probed.items()}
        self.tokens_per_row = _tokens_per_row({path: rows for path, (rows, _) in probed.items()}, self.layers)
        self._rebuild = _rebuild_spec(model, self.layers, inputs, self.labels, factory, factory_kwargs)
        self.recorded_epochs: list[int] = []
        self._history: dict[str, dict[int, float]] = {}
        self._last_stepped: int | None = None
        self._weights = GrowingWeights(f"{self.store}/{WEIGHTS_STORE}", _state(model))
        self._activations = GrowingActivations(
            f"{self.store}/{ACTIVATIONS_STORE}", shapes, len(self.labels) * self.tokens_per_row
        )
        self._open = True

    def step(self, epoch: int, **metrics: float) -> bool:
        """Record the model as of ``epoch`` if the schedule says so; ``metrics`` (loss=..., accuracy=...) go to the
        weights store's training curves. Returns whether this epoch was recorded."""
        epoch = int(epoch)
        if not self._open:
            raise InputError("this Recorder is closed; make a new one to record again")
        if self._last_stepped is not None and epoch <= self._last_stepped:
            raise InputError(f"step({epoch}) after step({self._last_stepped}): epochs must increase")
        self._last_stepped = epoch
        for name, value in metrics.items():
            self._history.setdefault(name, {})[epoch] = float(value)
        if not self._records(epoch):
            return False
        self._record(epoch)
        return True

    def _record(self, epoch: int) -> None:
        self._weights.append_state(_state(self.model))
        self._activations.append_layers(record_outputs(self.model, self.inputs, self.layers, self.batch_size))
        self.recorded_epochs.append(epoch)

    def close(self) -> None:
        """Record the last epoch if the schedule skipped it ("log", n), then commit both stores."""
        if not self._open:
            return
        if self._ends_on_last and self._last_stepped is not None and self._last_stepped not in self.recorded_epochs:
            self._record(self._last_stepped)
        if not self.recorded_epochs:
            self.abandon()
            raise InputError("nothing was recorded: call rec.step(epoch) in the training loop before rec.close()")
        self._open = False
        epochs = np.asarray(self.recorded_epochs, dtype=np.int64)
        history = {name: [values.get(int(epoch), np.nan) for epoch in epochs] for name, values in self._history.items()}
        attrs = {"model": self._model_attrs(), "params": json.dumps({"recorder": self._settings()}, sort_keys=True)}
        self._weights.close(epochs, history, attrs)
        inputs, labels, rows = self._probe_arrays()
        self._activations.close(epochs, rows, inputs, labels, {"params": attrs["params"]})

    def abandon(self) -> None:
        """Stop without writing: nothing appears at ``store``."""
        if self._open:
            self._open = False
            self._weights.abandon()
            self._activations.abandon()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        if error_type is None:
            self.close()
        else:
            self.abandon()

    def _probe_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs, labels, probe row) of every stored sample; per-token rows add the token position to the inputs."""
        inputs = _input_array(self.inputs)
        rows = np.arange(len(self.labels))
        if self.tokens_per_row == 1:
            return inputs, self.labels, rows
        flat = np.repeat(inputs.reshape(len(inputs), -1).astype(np.float64), self.tokens_per_row, axis=0)
        position = np.tile(np.arange(self.tokens_per_row), len(inputs))[:, None]
        repeat = self.tokens_per_row
        return np.hstack([flat, position]), np.repeat(self.labels, repeat), np.repeat(rows, repeat)

    def _model_attrs(self) -> dict[str, Any]:
        kind = type(self.model)
        if self._rebuild is not None:
            return {**self._rebuild, "class": f"{kind.__module__}.{kind.__qualname__}"}
        return {
            "arch": "recorded",
            "class": f"{kind.__module__}.{kind.__qualname__}",
            "layers": {path: path for path in self.layers},
        }

    def _settings(self) -> dict[str, Any]:
        return {
            "layers": {path: {"output": layer.output, "tokens": layer.tokens} for path, layer in self.layers.items()},
            "schedule": self.schedule if isinstance(self.schedule, str | int) else "custom",
            "probe_rows": len(self.labels),
            "tokens_per_row": self.tokens_per_row,
        }


def _rebuild_spec(
    model: nn.Module, layers: Mapping, inputs: Any, labels: np.ndarray, factory: str | None, kwargs: Mapping | None
) -> dict[str, Any] | None:
    """The ``model_spec`` of a custom network that ``factory`` rebuilds (checked here against ``model``), or None."""
    if factory is None:
        return None
    from ibpipe.data.arrays import pack_inputs
    from ibpipe.nn.architectures import model_spec
    from ibpipe.nn.recording import build_custom

    per_token = [path for path, layer in layers.items() if layer.tokens == "none"]
    if per_token:
        raise InputError(
            f"factory = {factory!r} with layers {per_token} recorded per token (tokens: none): the pipeline's stages "
            "record one row per input; pool the tokens (mean, last, first) or leave the factory out"
        )
    rebuilt = build_custom(factory, kwargs).state_dict()
    expected = model.state_dict()
    different = sorted(
        name
        for name in set(expected) | set(rebuilt)
        if name not in expected or name not in rebuilt or tuple(expected[name].shape) != tuple(rebuilt[name].shape)
    )
    if different:
        raise InputError(
            f"factory = {factory!r} builds a network whose parameters differ from the recorded model's "
            f"({', '.join(different[:5])}{' ...' if len(different) > 5 else ''}); "
            "pass the factory (and factory_kwargs) that built this model"
        )
    structured = (
        dict(inputs) if isinstance(inputs, Mapping) else tuple(inputs) if isinstance(inputs, tuple | list) else None
    )
    packed, layout = pack_inputs(inputs if structured is None else structured, f"factory = {factory!r}")
    return model_spec(
        "custom",
        packed.shape[1:],
        int(labels.max()) + 1 if len(labels) else 0,
        factory=factory,
        kwargs=kwargs,
        layers={path: _layer_choice(layer) for path, layer in layers.items()},
        softmax="",
        inputs=layout,
    )


def _layer_choice(layer: Any) -> dict[str, Any]:
    """A recorded layer as a ``model.layers`` entry: {module, output, tokens} without the unset options."""
    choice = {"module": layer.path, "output": layer.output, "tokens": layer.tokens}
    return {key: value for key, value in choice.items() if value is not None}


def _state(model: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter and buffer (BatchNorm statistics), as the train stage stores them."""
    return {name: tensor.detach().cpu().numpy().copy() for name, tensor in model.state_dict().items()}


def _labels(labels: Any, n_rows: int) -> np.ndarray:
    values = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if values.ndim != 1 or len(values) != n_rows:
        raise InputError(f"labels must be (rows,) class indices, one per input row ({n_rows}); got {values.shape}")
    if values.dtype.kind == "f" and not np.all(values == np.round(values)):
        raise InputError("labels must be class indices (integers); for one-hot labels pass labels.argmax(1)")
    return values.astype(np.int64)


def _tokens_per_row(rows_per_input: Mapping[str, int], layers) -> int:
    """Rows each input row becomes: 1, or the token count when the layers are recorded per token (``none``)."""
    per_token = {path: rows for path, rows in rows_per_input.items() if layers[path].tokens == "none"}
    if not per_token:
        return 1
    if set(per_token) != set(layers):
        per_row = sorted(set(layers) - set(per_token))
        raise InputError(
            f"layers {sorted(per_token)} are recorded per token (tokens: none) and {per_row} per input row; "
            "a store holds one kind of row: record them with two Recorders (two stores)"
        )
    if len(set(per_token.values())) > 1:
        raise InputError(f"per-token layers have different token counts {per_token}; record them in separate stores")
    return next(iter(per_token.values()))


def _input_array(inputs: Any) -> np.ndarray:
    """The probe inputs as stored: a tensor as it is; a tuple or dict of tensors flattened and side by side."""
    if isinstance(inputs, torch.Tensor):
        return inputs.detach().cpu().numpy()
    parts = list(inputs.values()) if isinstance(inputs, Mapping) else list(inputs)
    return np.hstack([part.detach().cpu().reshape(len(part), -1).double().numpy() for part in parts])
