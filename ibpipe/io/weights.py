"""The weights store: ``weights/<parameter>`` (trial, epoch, ...) for every epoch of training,
``history/<metric>`` (trial, epoch) training curves; root ``epoch`` and ``trial`` coordinates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from ibpipe.errors import OutputError, StoreError
from ibpipe.io.arrays import COMPRESSORS, write_array
from ibpipe.io.stores import new_store, open_store, reading, rebuild_hint

# The most bytes of weights held in memory before they are written (a chunk's epochs, all trials of a batch).
BUFFER_BYTES = 64 * 2**20


def write_weights(
    path: str | Path,
    streams: Iterable[tuple[range, Iterable]],
    n_epochs: int,
    n_trials: int,
    attrs: Mapping[str, Any],
    epochs_per_chunk: int = 1024,
) -> None:
    """Stream ``EpochRecord``s into a new weights store, (trial, epoch, ...) per parameter.

    ``streams`` yields (trials, records) pairs: the records of epochs 0..n_epochs-1 of those trials,
    each weight and metric with a leading trial axis of ``len(trials)`` (one stream for a batched
    run, one per trial for networks trained one after another).

    At most ``BUFFER_BYTES`` of weights wait in memory: a chunk holds fewer epochs when one epoch's
    weights are large, and each chunk is written as soon as its epochs are in. The first record
    (the initial weights, before any training) also sizes the whole store: more than the disk has
    free is an ``OutputError`` before the first epoch is trained.
    """
    with new_store(path) as root:
        root.attrs.update(dict(attrs))
        write_array(root, "epoch", np.arange(n_epochs), ("epoch",))
        write_array(root, "trial", np.arange(n_trials), ("trial",))
        arrays: dict[str, zarr.Array] = {}
        for trials, records in streams:
            rows = slice(trials.start, trials.stop)
            # Each record is copied into one block of epochs per array at once and then dropped: holding a
            # chunk's worth of records (thousands of small arrays between the training's large temporaries)
            # fragmented the heap by ~0.5 MB an epoch.
            blocks: dict[str, np.ndarray] = {}
            start, held, capacity = 0, 0, 0
            for record in records:
                if not arrays:
                    epoch_bytes = sum(value.nbytes for value in record.weights.values()) // max(len(trials), 1)
                    check_weights_room(path, epoch_bytes, n_epochs, n_trials)
                    epochs_per_chunk = max(1, min(epochs_per_chunk, BUFFER_BYTES // max(epoch_bytes * len(trials), 1)))
                    arrays = _create_weight_arrays(root, record, n_epochs, n_trials, epochs_per_chunk)
                if not blocks:
                    capacity = min(epochs_per_chunk, n_epochs)
                    blocks = {
                        name: np.empty((len(trials), capacity, *array.shape[2:]), dtype=array.dtype)
                        for name, array in arrays.items()
                    }
                if not held:
                    start = record.epoch
                for name, block in blocks.items():
                    block[:, held] = _value(record, name)
                held += 1
                if held == capacity:
                    _flush(arrays, rows, blocks, start, held)
                    held = 0
            if held:
                _flush(arrays, rows, blocks, start, held)


def check_weights_room(path: str | Path, epoch_bytes: int, n_epochs: int, n_trials: int) -> None:
    """An ``OutputError`` when ``n_trials`` x ``n_epochs`` epochs of ``epoch_bytes`` exceed the free disk at ``path``.

    Weights compress little; the estimate is their raw size. Remote stores (fsspec URLs) are not checked.
    """
    import shutil

    if "://" in str(path):
        return
    need = epoch_bytes * n_epochs * n_trials
    folder = Path(path).resolve().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if need > free:
        raise OutputError(
            f"{path}: the weights of {n_trials} trial(s) x {n_epochs} epochs need ~{_size(need)} "
            f"({_size(epoch_bytes)} an epoch) but {folder} has {_size(free)} free; train fewer epochs or trials "
            "(train.epochs, train.trials), narrower layers (model.widths), or free disk space"
        )


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.1f} MB"


def _value(record, name: str) -> np.ndarray:
    """The record's weight (``weights/<key>``) or metric (``history/<key>``) behind ``name``."""
    group, key = name.split("/", 1)
    return (record.weights if group == "weights" else record.metrics)[key]


def _flush(arrays: dict[str, zarr.Array], rows: slice, blocks: dict[str, np.ndarray], start: int, held: int) -> None:
    """Write the first ``held`` epochs of the blocks, epochs ``start`` on of trials ``rows``, into every array."""
    for name, array in arrays.items():
        array[rows, start : start + held] = blocks[name][:, :held]


def _create_weight_arrays(
    root: zarr.Group, record, n_epochs: int, n_trials: int, epochs_per_chunk: int
) -> dict[str, zarr.Array]:
    arrays = {}
    chunk = min(epochs_per_chunk, n_epochs)
    for name, value in record.weights.items():
        shape = value.shape[1:]
        dims = ("trial", "epoch", *(f"{name}_dim{i}" for i in range(len(shape))))
        arrays[f"weights/{name}"] = root.create_array(
            f"weights/{name}",
            shape=(n_trials, n_epochs, *shape),
            chunks=(1, chunk, *shape),
            dtype=value.dtype,
            dimension_names=dims,
            compressors=COMPRESSORS,
        )
    for name in record.metrics:
        arrays[f"history/{name}"] = root.create_array(
            f"history/{name}",
            shape=(n_trials, n_epochs),
            chunks=(1, chunk),
            dtype="float64",
            dimension_names=("trial", "epoch"),
            compressors=COMPRESSORS,
        )
    return arrays


def stored_trials(path: str | Path) -> int:
    """Trials in a weights store."""
    root = open_store(path)
    with reading(path, "trial"):
        return int(root["trial"].shape[0])


def read_weights(
    path: str | Path, epochs: Iterable[int], trial: int = 0
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield (epoch, parameters) of one trial for the requested epochs, reading each array once.

    A store that lacks a requested epoch (a truncated or stale store) raises a ``StoreError``.
    """
    root = open_store(path)
    epochs = np.asarray(list(epochs), dtype=np.int64)
    stacked = {}
    with reading(path, "weights"):
        arrays = dict(root["weights"].arrays())
        # The train stage stores every epoch (positions are epochs); a Recorder only the scheduled ones.
        stored = np.asarray(root["epoch"][...], dtype=np.int64)
    positions = np.searchsorted(stored, epochs)
    for name, array in arrays.items():
        held = stored[: array.shape[1]]
        found = np.zeros(len(epochs), dtype=bool)
        if len(held):
            found = (positions < len(held)) & (held[np.minimum(positions, len(held) - 1)] == epochs)
        if not np.all(found):
            missing = epochs[~found]
            raise StoreError(
                f"{path} lacks epoch {missing[0]} in array 'weights/{name}' (it holds epochs {_epoch_list(held)}); "
                f"{rebuild_hint(path)}"
            )
        with reading(path, f"weights/{name}"):
            stacked[name] = array.oindex[int(trial), positions]
    for position, epoch in enumerate(epochs.tolist()):
        yield epoch, {name: values[position] for name, values in stacked.items()}


def _epoch_list(epochs: np.ndarray) -> str:
    """'0..9' for consecutive epochs, else the list."""
    if len(epochs) and np.array_equal(epochs, np.arange(epochs[0], epochs[0] + len(epochs))):
        return f"{epochs[0]}..{epochs[-1]}"
    return str(epochs.tolist())


def open_weights_attrs(path: str | Path) -> dict[str, Any]:
    return dict(open_store(path).attrs)


def open_history(path: str | Path) -> xr.Dataset:
    """Training curves as a Dataset with dims (trial, epoch)."""
    root = open_store(path)
    with reading(path, "history"):
        data = {name: (("trial", "epoch"), array[...]) for name, array in root["history"].arrays()}
        return xr.Dataset(data, coords={"epoch": root["epoch"][...], "trial": root["trial"][...]})
