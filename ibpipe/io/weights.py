"""The weights store: ``weights/<parameter>`` (epoch, ...) for every epoch of training,
``history/<metric>`` (epoch,) training curves."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from ibpipe.errors import StoreError
from ibpipe.io.arrays import COMPRESSORS, write_array
from ibpipe.io.stores import new_store, open_store, reading, rebuild_hint


def write_weights(
    path: str | Path, records: Iterable, n_epochs: int, attrs: Mapping[str, Any], epochs_per_chunk: int = 1024
) -> None:
    """Stream ``EpochRecord``s for epochs 0..n_epochs-1 into a new weights store."""
    with new_store(path) as root:
        root.attrs.update(dict(attrs))
        write_array(root, "epoch", np.arange(n_epochs), ("epoch",))
        arrays: dict[str, zarr.Array] = {}
        buffer: list = []

        def flush() -> None:
            start = buffer[0].epoch
            stop = start + len(buffer)
            for name, array in arrays.items():
                group, key = name.split("/", 1)
                source = "weights" if group == "weights" else "metrics"
                array[start:stop] = np.stack([getattr(r, source)[key] for r in buffer])
            buffer.clear()

        for record in records:
            if not arrays:
                arrays = _create_weight_arrays(root, record, n_epochs, epochs_per_chunk)
            buffer.append(record)
            if len(buffer) == epochs_per_chunk:
                flush()
        if buffer:
            flush()


def _create_weight_arrays(root: zarr.Group, record, n_epochs: int, epochs_per_chunk: int) -> dict[str, zarr.Array]:
    arrays = {}
    chunk = min(epochs_per_chunk, n_epochs)
    for name, value in record.weights.items():
        dims = ("epoch", *(f"{name}_dim{i}" for i in range(value.ndim)))
        arrays[f"weights/{name}"] = root.create_array(
            f"weights/{name}",
            shape=(n_epochs, *value.shape),
            chunks=(chunk, *value.shape),
            dtype=value.dtype,
            dimension_names=dims,
            compressors=COMPRESSORS,
        )
    for name in record.metrics:
        arrays[f"history/{name}"] = root.create_array(
            f"history/{name}",
            shape=(n_epochs,),
            chunks=(chunk,),
            dtype="float64",
            dimension_names=("epoch",),
            compressors=COMPRESSORS,
        )
    return arrays


def read_weights(path: str | Path, epochs: Iterable[int]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield (epoch, parameters) for the requested epochs, reading each array once.

    A store that lacks a requested epoch (a truncated or stale store) raises a ``StoreError``.
    """
    root = open_store(path)
    epochs = np.asarray(list(epochs), dtype=np.int64)
    stacked = {}
    with reading(path, "weights"):
        arrays = dict(root["weights"].arrays())
    for name, array in arrays.items():
        if epochs.size and (epochs.min() < 0 or epochs.max() >= array.shape[0]):
            missing = sorted(set(epochs.tolist()) - set(range(array.shape[0])))
            raise StoreError(
                f"{path} lacks epoch {missing[0]} in array 'weights/{name}' (it holds epochs 0..{array.shape[0] - 1}); "
                f"{rebuild_hint(path)}"
            )
        with reading(path, f"weights/{name}"):
            stacked[name] = array.oindex[epochs]
    for position, epoch in enumerate(epochs.tolist()):
        yield epoch, {name: values[position] for name, values in stacked.items()}


def open_weights_attrs(path: str | Path) -> dict[str, Any]:
    return dict(open_store(path).attrs)


def open_history(path: str | Path) -> xr.Dataset:
    """Training curves as a Dataset with dim ``epoch``."""
    root = open_store(path)
    with reading(path, "history"):
        data = {name: ("epoch", array[...]) for name, array in root["history"].arrays()}
        return xr.Dataset(data, coords={"epoch": root["epoch"][...]})
