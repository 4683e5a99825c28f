"""The weights store: ``weights/<parameter>`` (epoch, ...) for every epoch of training,
``history/<metric>`` (epoch,) training curves."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from ibpipe.errors import InputError
from ibpipe.io.arrays import write_array
from ibpipe.io.files import atomic_path


def write_weights(
    path: str | Path, records: Iterable, n_epochs: int, attrs: Mapping[str, Any], epochs_per_chunk: int = 1024
) -> None:
    """Stream ``EpochRecord``s for epochs 0..n_epochs-1 into a new weights store."""
    with atomic_path(path) as temporary:
        root = zarr.open_group(temporary, mode="w")
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
        )
    for name in record.metrics:
        arrays[f"history/{name}"] = root.create_array(
            f"history/{name}", shape=(n_epochs,), chunks=(chunk,), dtype="float64", dimension_names=("epoch",)
        )
    return arrays


def read_weights(path: str | Path, epochs: Iterable[int]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield (epoch, parameters) for the requested epochs, reading each array once."""
    root = zarr.open_group(path, mode="r")
    epochs = np.asarray(list(epochs), dtype=np.int64)
    available = int(root["epoch"].shape[0])
    if epochs.size and (epochs.min() < 0 or epochs.max() >= available):
        raise InputError(f"{path} holds epochs 0..{available - 1}; asked for {epochs.min()}..{epochs.max()}")
    group = root["weights"]
    stacked = {name: array.oindex[epochs] for name, array in group.arrays()}
    for position, epoch in enumerate(epochs.tolist()):
        yield epoch, {name: values[position] for name, values in stacked.items()}


def open_weights_attrs(path: str | Path) -> dict[str, Any]:
    return dict(zarr.open_group(path, mode="r").attrs)


def open_history(path: str | Path) -> xr.Dataset:
    """Training curves as a Dataset with dim ``epoch``."""
    root = zarr.open_group(path, mode="r")
    history = root["history"]
    data = {name: ("epoch", array[...]) for name, array in history.arrays()}
    return xr.Dataset(data, coords={"epoch": root["epoch"][...]})
