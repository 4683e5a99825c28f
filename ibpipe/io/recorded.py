"""Weights and activations stores grown one recorded epoch at a time (``ibpipe.Recorder``).

The layouts are the train and dump-activations stages' (``ibpipe.io.weights``, ``ibpipe.io.layers``):
one trial, the epochs that were recorded. Arrays start with no epochs and grow by whole chunks
(activations: whole shards), so each chunk file is written once: recorded epochs wait in memory
until a chunk is full, which bounds memory by ``MAX_CHUNK_BYTES`` per array (twice that while a full
chunk is compressed and written by a background thread, so training goes on meanwhile). Both stores are built
through ``new_store`` and committed by ``close`` only, so an interrupted run leaves no store that
looks finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ibpipe.io.arrays import COMPRESSORS, write_array
from ibpipe.io.attrs import TRIALS_ATTR
from ibpipe.io.layers import write_layer_store_header
from ibpipe.io.stores import new_store

# A chunk (weights) or shard (activations) holds at most this many bytes, and at most MAX_CHUNK_EPOCHS epochs.
MAX_CHUNK_BYTES = 16 * 2**20
MAX_CHUNK_EPOCHS = 16


def epochs_per_chunk(bytes_per_epoch: int) -> int:
    return int(np.clip(MAX_CHUNK_BYTES // max(1, bytes_per_epoch), 1, MAX_CHUNK_EPOCHS))


class _GrowingStore:
    """A store under construction: arrays with a growing epoch axis, committed by ``close``."""

    def __init__(self, location: str | Path):
        self._building = new_store(location)
        self.root: zarr.Group = self._building.__enter__()
        self.arrays: dict[str, tuple[zarr.Array, int]] = {}  # name -> (array, epoch axis)
        self.buffers: dict[str, list[np.ndarray]] = {}
        # One writer thread: chunks are written in order, and compressing one overlaps the next epochs' training.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ibpipe-recorder")
        self._pending: list[Future] = []

    def add(self, name: str, shape: Sequence[int], dtype, dims: Sequence[str], axis: int, chunk_epochs: int, shards):
        chunks = [*shape]
        chunks.insert(axis, 1 if shards else chunk_epochs)
        full = [*shape]
        full.insert(axis, 0)
        shard_shape = None
        if shards:
            shard_shape = [*shape]
            shard_shape.insert(axis, chunk_epochs)
        array = self.root.create_array(
            name,
            shape=tuple(full),
            chunks=tuple(chunks),
            shards=None if shard_shape is None else tuple(shard_shape),
            dtype=dtype,
            dimension_names=tuple(dims),
            compressors=COMPRESSORS,
        )
        self.arrays[name] = (array, axis)
        self.buffers[name] = []

    def append(self, values: Mapping[str, np.ndarray]) -> None:
        """One epoch of every array; a full chunk goes to disk."""
        for name, value in values.items():
            self.buffers[name].append(np.asarray(value))
        self._flush(full_only=True)

    def _flush(self, full_only: bool) -> None:
        """Hand every full chunk (every waiting epoch unless ``full_only``) to the writer thread."""
        self._raise_failed()
        for name, (array, axis) in self.arrays.items():
            waiting = self.buffers[name]
            chunk = (array.shards or array.chunks)[axis]
            if waiting and (len(waiting) >= chunk or not full_only):
                self._pending.append(self._writer.submit(_append_epochs, array, axis, list(waiting)))
                waiting.clear()
        # Back-pressure: at most one round of chunks waits behind the one being written (bounded memory).
        while len(self._pending) > 2 * len(self.arrays):
            self._pending.pop(0).result()

    def _raise_failed(self) -> None:
        """Re-raise, in the training loop, an error of a write that has finished."""
        done = [future for future in self._pending if future.done()]
        self._pending = [future for future in self._pending if not future.done()]
        for future in done:
            future.result()

    def _wait(self) -> None:
        self._writer.shutdown(wait=True)
        for future in self._pending:
            future.result()
        self._pending = []

    def commit(self) -> None:
        self._flush(full_only=False)
        self._wait()
        self._building.__exit__(None, None, None)

    def abandon(self) -> None:
        """Drop the store under construction (nothing appears at its location)."""
        self._writer.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(_Abandoned):
            self._building.__exit__(_Abandoned, _Abandoned(), None)


def _append_epochs(array: zarr.Array, axis: int, epochs: list[np.ndarray]) -> None:
    """Grow ``array`` along its epoch ``axis`` by ``epochs`` and write them."""
    start = array.shape[axis]
    shape = list(array.shape)
    shape[axis] = start + len(epochs)
    array.resize(tuple(shape))
    where = [slice(None)] * array.ndim
    where[axis] = slice(start, start + len(epochs))
    array[tuple(where)] = np.stack(epochs, axis=axis)


class _Abandoned(Exception):
    pass


class GrowingWeights(_GrowingStore):
    """``weights/<parameter>`` (trial, epoch, ...) of one trial and ``history/<metric>`` (trial, epoch)."""

    def __init__(self, location: str | Path, state: Mapping[str, np.ndarray]):
        super().__init__(location)
        chunk = epochs_per_chunk(sum(value.nbytes for value in state.values()))
        for name, value in state.items():
            dims = ("trial", "epoch", *(f"{name}_dim{i}" for i in range(value.ndim)))
            self.add(f"weights/{name}", (1, *value.shape), value.dtype, dims, 1, chunk, shards=False)
        self.root.require_group("history")

    def append_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.append({f"weights/{name}": value[None] for name, value in state.items()})

    def close(self, epochs: np.ndarray, history: Mapping[str, np.ndarray], attrs: Mapping[str, Any]) -> None:
        self._flush(full_only=False)
        self._wait()
        self.root.attrs.update(dict(attrs))
        write_array(self.root, "epoch", np.asarray(epochs, dtype=np.int64), ("epoch",))
        write_array(self.root, "trial", np.arange(1), ("trial",))
        for name, values in history.items():
            write_array(self.root, f"history/{name}", np.asarray(values, dtype=np.float64)[None], ("trial", "epoch"))
        self.commit()


class GrowingActivations(_GrowingStore):
    """Per layer ``<layer>/activation`` (epoch, sample, unit) float32, sharded by epoch slabs."""

    def __init__(self, location: str | Path, shapes: Mapping[str, Sequence[int]], n_samples: int):
        super().__init__(location)
        self.shapes = {layer: tuple(int(size) for size in shape) for layer, shape in shapes.items()}
        widths = {layer: int(np.prod(shape)) for layer, shape in self.shapes.items()}
        self.chunk_epochs = epochs_per_chunk(4 * n_samples * max(widths.values()))
        for layer, width in widths.items():
            group = self.root.require_group(layer)
            group.attrs["shape"] = list(self.shapes[layer])
            dims = ("epoch", "sample", "unit")
            self.add(f"{layer}/activation", (n_samples, width), "float32", dims, 0, self.chunk_epochs, shards=True)

    def append_layers(self, values: Mapping[str, np.ndarray]) -> None:
        self.append({f"{layer}/activation": np.asarray(value, dtype=np.float32) for layer, value in values.items()})

    def close(
        self, epochs: np.ndarray, sample_rows: np.ndarray, inputs: np.ndarray, labels: np.ndarray, attrs: Mapping
    ) -> None:
        self._flush(full_only=False)
        self._wait()
        epochs = np.asarray(epochs, dtype=np.int64)
        write_layer_store_header(
            self.root,
            epochs=epochs,
            sample_rows=sample_rows,
            inputs=inputs,
            labels=labels,
            shapes=self.shapes,
            attrs={**attrs, TRIALS_ATTR: 1},
        )
        for layer in self.shapes:
            write_array(self.root[layer], "epoch", epochs, ("epoch",))
        self.commit()
