"""The layer stores (activations, codes) and the layout of every Zarr store.

Layouts (all Zarr format 3, dimension names set so ``xarray.open_zarr`` reads them):

``weights.zarr``       ``epoch`` (epoch,); ``weights/<parameter>`` (epoch, ...) for every
                       parameter of the network; ``history/<metric>`` (epoch,) training curves.
``activations.zarr``   root ``epoch``, ``sample`` (dataset row of each measured sample),
``codes.zarr``         ``inputs`` (sample, input_unit), ``labels`` (sample,), ``x_id`` (codes
                       only: which distinct input each sample is); one group per layer holding
                       ``activation`` (float32) or ``code`` (int32), dims (epoch, sample, unit),
                       sharded so one shard file holds a slab of consecutive epochs of a
                       chunk of samples (all samples when they fit ``dump.samples_per_chunk``).
                       A noisy network (root attr ``noise_std`` > 0) also stores, per hidden
                       layer, ``pre_noise`` (epoch, sample, draw, unit): the noiseless outputs of
                       ``dump.noise_draws`` noisy forward passes per input (sample propagation).
                       A codes layer group also holds ``nonfinite`` (epoch,): how many of that
                       epoch's activations were NaN or inf (such a cell is measured as NaN).
                       Root attrs name the layers in forward order with their widths and
                       per-sample shapes (an image layer's units are (C, H, W) flattened).
                       Trials (root attr ``trials``, absent = 1): trial 0's layer groups sit at
                       the root as above, trial s >= 1's in ``trial<s>/<layer>`` with the same
                       arrays. One group per trial keeps each shard one trial's epoch slab and
                       lets every reader that reads one trial (probes, t-SNE, ae-points) read
                       trial 0 unchanged; the estimate stage fans out over (trial, layer, epochs).

Every writer builds its output through ``ibpipe.io.stores.new_store`` (a temporary name
renamed into place on a disk, a completion attr on an object store), so an interrupted
stage never leaves a store that looks finished. Stores may be paths or fsspec URLs; read
failures are ``StoreError``s naming the store, the array and the command that rebuilds it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ibpipe.io.arrays import COMPRESSORS, _epoch_slabs, sample_chunks, write_array
from ibpipe.io.attrs import (
    INPUT_SHAPE_ATTR,
    LAYER_SHAPE_ATTR,
    LAYERS_ATTR,
    REDUCTIONS_ATTR,
    SHAPES_ATTR,
    SPLITS_ATTR,
    TRIALS_ATTR,
    WIDTHS_ATTR,
)
from ibpipe.io.stores import open_store, reading, store_of

NONFINITE_ARRAY = "nonfinite"


PRE_NOISE_ARRAY = "pre_noise"


def trial_prefix(trial: int) -> str:
    """Group prefix of a trial's layer groups: '' for trial 0 (the root), 'trial<s>/' otherwise."""
    return "" if int(trial) == 0 else f"trial{int(trial)}/"


def store_trials(root: zarr.Group) -> int:
    """Trials in a layer store (1 for a store written without trials)."""
    return int(root.attrs.get(TRIALS_ATTR, 1))


def write_splits(root: zarr.Group, splits: Mapping[str, np.ndarray] | None) -> None:
    """Per measured split (``dataset.measure_on`` as a list), root array ``split_<name>``: its sample positions."""
    if not splits:
        return
    root.attrs[SPLITS_ATTR] = list(splits)
    for name, positions in splits.items():
        write_array(root, f"split_{name}", np.asarray(positions, dtype=np.int64), (f"{name}_sample",))


def store_splits(root: zarr.Group) -> dict[str | None, np.ndarray | None]:
    """{split: sample positions} of a layer store, or {None: None} when every sample is one measurement."""
    names = list(root.attrs.get(SPLITS_ATTR, []))
    return {name: np.asarray(root[f"split_{name}"][...]) for name in names} or {None: None}


def reduction_prefix(name: str | None) -> str:
    """Group prefix of a named reduction's codes ('reductions/<name>/'); '' without named reductions."""
    return "" if name is None else f"reductions/{name}/"


def activation_group(group: str) -> str:
    """The activations group of a codes group: the codes' path without its reduction prefix."""
    return group.split("/", 2)[2] if group.startswith("reductions/") else group


def store_reductions(root: zarr.Group) -> list[str | None]:
    """Named reductions of a codes store, or [None] for the single reduction (no prefix)."""
    return list(root.attrs.get(REDUCTIONS_ATTR, [])) or [None]


def group_prefixes(root: zarr.Group) -> list[str]:
    """Every (reduction, trial) prefix of a layer store, reduction-major then trial."""
    return [
        reduction_prefix(name) + trial_prefix(trial)
        for name in store_reductions(root)
        for trial in range(store_trials(root))
    ]


def create_pre_noise_arrays(
    root: zarr.Group,
    *,
    widths: Mapping[str, int],
    n_epochs: int,
    n_samples: int,
    n_draws: int,
    epochs_per_shard: int,
    samples_per_chunk: int,
    prefix: str = "",
) -> dict[str, zarr.Array]:
    """Empty ``pre_noise`` arrays (epoch, sample, draw, unit) of the given layers, sharded like the activations."""
    samples_per_chunk = min(samples_per_chunk, n_samples)
    return {
        layer: root.require_group(prefix + layer).create_array(
            PRE_NOISE_ARRAY,
            shape=(n_epochs, n_samples, n_draws, width),
            chunks=(1, samples_per_chunk, n_draws, width),
            shards=(min(epochs_per_shard, n_epochs), samples_per_chunk, n_draws, width),
            dtype="float32",
            dimension_names=("epoch", "sample", "draw", "unit"),
        )
        for layer, width in widths.items()
    }


def read_pre_noise(path: str | Path, layer: str, start: int, stop: int) -> np.ndarray | None:
    """Epochs [start, stop) of one layer's ``pre_noise`` draws (epoch, sample, draw, unit); None when not stored
    (a deterministic network, or the output layer, which has no noise)."""
    root = open_store(path)
    with reading(path, f"{layer}/{PRE_NOISE_ARRAY}"):
        group = root[layer]
        return np.asarray(group[PRE_NOISE_ARRAY][start:stop]) if PRE_NOISE_ARRAY in group else None


class LayerStoreWriter:
    """Writes per-layer (epoch, sample, unit) arrays, one shard (epoch slab x sample chunk) at a time.

    A shard holds ``epochs_per_shard`` consecutive epochs of ``samples_per_chunk`` samples, one
    inner chunk per epoch; small datasets fit in one sample chunk, so a shard is an epoch slab.
    Each layer group records its unit ``shape`` (units are that shape flattened in C order).
    """

    def __init__(
        self,
        root: zarr.Group,
        variable: str,
        *,
        shapes: Mapping[str, Sequence[int]],
        epochs: np.ndarray,
        n_samples: int,
        epochs_per_shard: int,
        dtype: str,
        samples_per_chunk: int | None = None,
        prefix: str = "",
    ):
        """``prefix``: the trial's group prefix (``trial_prefix``); arrays are keyed by layer name."""
        self.root = root
        self.variable = variable
        self.epochs_per_shard = epochs_per_shard
        self.samples_per_chunk = min(samples_per_chunk or n_samples, n_samples)
        self.arrays: dict[str, zarr.Array] = {}
        shard_epochs = min(epochs_per_shard, len(epochs))
        for layer, shape in shapes.items():
            width = int(np.prod(shape))
            group = root.require_group(prefix + layer)
            group.attrs[LAYER_SHAPE_ATTR] = [int(size) for size in shape]
            write_array(group, "epoch", np.asarray(epochs), ("epoch",))
            self.arrays[layer] = group.create_array(
                variable,
                shape=(len(epochs), n_samples, width),
                chunks=(1, self.samples_per_chunk, width),
                shards=(shard_epochs, self.samples_per_chunk, width),
                dtype=dtype,
                dimension_names=("epoch", "sample", "unit"),
                compressors=COMPRESSORS,
            )

    @property
    def n_epochs(self) -> int:
        return next(iter(self.arrays.values())).shape[0]

    def slabs(self) -> Iterator[slice]:
        """Epoch positions that make up each shard, in order."""
        return _epoch_slabs(self.n_epochs, self.epochs_per_shard)

    def sample_chunks(self) -> list[slice]:
        """Sample positions of each shard, in order."""
        return sample_chunks(next(iter(self.arrays.values())).shape[1], self.samples_per_chunk)

    def write(self, slab: slice, values: Mapping[str, np.ndarray], samples: slice = slice(None)) -> None:
        """Write epochs ``slab`` x ``samples`` of each layer given in ``values`` (whole shards write fastest)."""
        for layer, layer_values in values.items():
            self.arrays[layer][slab, samples] = layer_values


def write_layer_store_header(
    root: zarr.Group,
    *,
    epochs: np.ndarray,
    sample_rows: np.ndarray,
    inputs: np.ndarray,
    labels: np.ndarray,
    shapes: Mapping[str, Sequence[int]],
    attrs: Mapping[str, Any],
) -> None:
    """Root attrs (layers in forward order, their widths and shapes, the input shape) and the root arrays."""
    root.attrs.update(
        {
            **attrs,
            LAYERS_ATTR: list(shapes),
            WIDTHS_ATTR: {layer: int(np.prod(shape)) for layer, shape in shapes.items()},
            SHAPES_ATTR: {layer: [int(size) for size in shape] for layer, shape in shapes.items()},
            INPUT_SHAPE_ATTR: [int(size) for size in np.asarray(inputs).shape[1:]],
        }
    )
    write_array(root, "epoch", np.asarray(epochs, dtype=np.int64), ("epoch",))
    write_array(root, "sample", np.asarray(sample_rows, dtype=np.int64), ("sample",))
    write_array(root, "inputs", np.asarray(inputs).reshape(len(sample_rows), -1), ("sample", "input_unit"))
    write_array(root, "labels", np.asarray(labels, dtype=np.int64), ("sample",))


def copy_header(source: zarr.Group, target: zarr.Group) -> None:
    """Copy root attrs and the root arrays (epoch, sample, inputs, labels) between layer stores."""
    target.attrs.update(dict(source.attrs))
    for name, array in source.arrays():
        write_array(target, name, array[...], tuple(array.metadata.dimension_names))


def open_layer_store(location: str | Path) -> zarr.Group:
    """Open an activations or codes store (a path or an fsspec URL) for reading."""
    return open_store(location)


def read_array(root: zarr.Group, name: str, selection=Ellipsis) -> np.ndarray:
    """``root[name][selection]``; a corrupt or truncated array raises a ``StoreError`` naming it."""
    with reading(store_of(root), name):
        return root[name][selection]


def layer_names(root: zarr.Group) -> list[str]:
    return list(root.attrs[LAYERS_ATTR])


def layer_widths(root: zarr.Group) -> dict[str, int]:
    return {layer: int(width) for layer, width in root.attrs[WIDTHS_ATTR].items()}


def layer_shapes(root: zarr.Group) -> dict[str, tuple[int, ...]]:
    """Shape of one sample of each layer (units are this shape flattened in C order)."""
    return {layer: tuple(int(size) for size in shape) for layer, shape in root.attrs[SHAPES_ATTR].items()}


def input_shape(root: zarr.Group) -> tuple[int, ...]:
    return tuple(int(size) for size in root.attrs[INPUT_SHAPE_ATTR])


def epochs_per_shard(root: zarr.Group, layer: str, variable: str) -> int:
    return int(root[layer][variable].shards[0])


def samples_per_shard(root: zarr.Group, layer: str, variable: str) -> int:
    return int(root[layer][variable].shards[1])


def layer_chunks(root: zarr.Group, layer: str, variable: str, epochs: slice) -> Iterator[tuple[slice, np.ndarray]]:
    """(sample positions, values) of the epochs ``epochs`` of one layer, one shard's samples at a time."""
    name = f"{layer}/{variable}"
    with reading(store_of(root), name):
        array = root[name]
    for samples in sample_chunks(array.shape[1], int(array.shards[1])):
        yield samples, read_array(root, name, (epochs, samples))


def layer_slabs(
    root: zarr.Group, layer: str, variable: str, read: bool = True
) -> Iterator[tuple[slice, np.ndarray | None]]:
    """(epoch positions, values) for each shard-sized slab of one layer, in epoch order.

    With ``read=False`` only the positions are produced (values are ``None``), for
    handing slabs to workers that read them themselves.
    """
    name = f"{layer}/{variable}"
    with reading(store_of(root), name):
        array = root[name]
    for slab in _epoch_slabs(array.shape[0], int(array.shards[0])):
        yield slab, (read_array(root, name, slab) if read else None)


def layer_tasks(root: zarr.Group, variable: str, epochs_per_task: int) -> list[tuple[str, int, int]]:
    """(group, start, stop) epoch ranges of at most ``epochs_per_task``, never crossing a shard, in the order
    of ``group_prefixes`` (reduction, trial) then layer-major; the group is the layer's path in the store."""
    return [
        (prefix + layer, start, min(start + epochs_per_task, slab.stop))
        for prefix in group_prefixes(root)
        for layer in layer_names(root)
        for slab, _ in layer_slabs(root, prefix + layer, variable, read=False)
        for start in range(slab.start, slab.stop, epochs_per_task)
    ]


def read_slab(
    location: str | Path, layer: str, variable: str, start: int, stop: int, rows: np.ndarray | None = None
) -> np.ndarray:
    """Epochs [start, stop) of one layer's (epoch, sample, unit) array: all samples, or only ``rows`` (sorted).

    ``rows`` are picked one shard's samples at a time, so memory is one shard plus the rows
    kept (a single fancy-indexed read may decode every shard at once).
    """
    root = open_store(location)
    if rows is None:
        return read_array(root, f"{layer}/{variable}", slice(start, stop))
    parts = []
    for samples, values in layer_chunks(root, layer, variable, slice(start, stop)):
        inside = rows[(rows >= samples.start) & (rows < samples.stop)]
        parts.append(values[:, inside - samples.start])
    return np.concatenate(parts, axis=1)


def read_slab_chunks(location: str | Path, layer: str, variable: str, start: int, stop: int) -> Iterator[np.ndarray]:
    """Epochs [start, stop) of one layer, one shard's samples at a time (bounded memory)."""
    root = open_store(location)
    for _, values in layer_chunks(root, layer, variable, slice(start, stop)):
        yield values


def read_nonfinite(path: str | Path, layer: str, start: int, stop: int) -> np.ndarray:
    """Per epoch in [start, stop), how many activations of ``layer`` were non-finite (zeros for older stores)."""
    root = open_store(path)
    with reading(path, f"{layer}/{NONFINITE_ARRAY}"):
        group = root[layer]
        if NONFINITE_ARRAY not in group:
            return np.zeros(stop - start, dtype=np.int64)
        return np.asarray(group[NONFINITE_ARRAY][start:stop])
