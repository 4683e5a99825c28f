"""The estimate stage's Dask tasks: each reads its (layer, epochs) slab from the Zarr stores and measures it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import xarray as xr

from ibpipe.estimators.registry import needs
from ibpipe.estimators.rowkeys import bounded_row_keys
from ibpipe.infoplane.measure import EstimateOptions, SlabMeasures


def stored_state_ids(codes_path: str, layer: str, start: int, stop: int) -> np.ndarray:
    """State ids (n_epochs, n_samples, 1) of epochs [start, stop) of one layer's codes, read one
    shard's samples at a time.

    Rows are keyed chunk by chunk against the layer's code bounds (the same row always
    gets the same key) and the keys of all the epochs made dense together, so ids compare
    across the epochs of a window. Memory: one chunk of codes plus 8 bytes per (epoch, sample).
    """
    from ibpipe.io.layers import open_layer_store, read_slab_chunks

    group = open_layer_store(codes_path)[layer]
    low, high = group["code_low"][...], group["code_high"][...]
    keys = [
        np.stack([bounded_row_keys(epoch_codes, low, high) for epoch_codes in chunk])
        for chunk in read_slab_chunks(codes_path, layer, "code", start, stop)
    ]
    keys = np.concatenate(keys, axis=1)
    _, dense = np.unique(keys, return_inverse=True)
    return dense.reshape((*keys.shape, 1)).astype(np.int64, copy=False)


def _dense(ids: np.ndarray) -> np.ndarray:
    return np.unique(ids, return_inverse=True)[1].reshape(ids.shape).astype(np.int64, copy=False)


def stored_slab_information(
    layer: str,
    start: int,
    stop: int,
    split: str | None = None,
    *,
    codes_path: str,
    activations_path: str,
    labels: np.ndarray,
    x_ids: np.ndarray,
    options: EstimateOptions,
    splits: dict | None = None,
) -> SlabMeasures:
    """The Dask task: read epochs [start, stop) of one layer (and the window's earlier epochs) from
    the stores, then measure. ``split`` names a measured split (``splits[split]``: its sample positions):
    only those samples are measured, as if they were the whole store."""
    from ibpipe.estimators.pairwise import settings
    from ibpipe.infoplane.capping import pairwise_budget_bytes, pairwise_rows, split_slab_information
    from ibpipe.io.layers import activation_group, read_nonfinite, read_pre_noise, read_slab

    first = max(0, start - options.window + 1)
    codes = stored_state_ids(codes_path, layer, first, stop)
    positions = None if split is None else np.asarray(splits[split])
    if positions is not None:
        codes, labels, x_ids = _dense(codes[:, positions]), labels[positions], _dense(x_ids[positions])
    wanted = needs(options.estimators, "activations") or bool(options.dimensions)
    rows = pairwise_rows(options, len(labels))  # the cost cap: only these rows are read for the pairwise methods
    stored_rows = rows if positions is None else (positions if rows is None else positions[rows])
    source = activation_group(layer)  # named reductions share one trial's activations
    activations = read_slab(activations_path, source, "activation", first, stop, stored_rows) if wanted else None
    nonfinite = read_nonfinite(codes_path, layer, first, stop)
    draws = read_pre_noise(activations_path, source, first, stop) if needs(options.estimators, "pre_noise") else None
    if draws is not None and stored_rows is not None:
        draws = draws[:, stored_rows]
    with settings(memory_limit=pairwise_budget_bytes(options), device=options.device):
        return split_slab_information(
            options, labels, x_ids, codes, activations, rows, lead=start - first, nonfinite=nonfinite, pre_noise=draws
        )


def stack_task_results(results: list[SlabMeasures], n_layers: int) -> SlabMeasures:
    """Join the measures of layer-major, epoch-ordered tasks into (epoch, layer, ...) arrays."""

    def stack(parts):
        return np.stack(np.split(np.concatenate(parts), n_layers), axis=1)

    return SlabMeasures(
        points=stack([result.points for result in results]),
        intervals=None if results[0].intervals is None else stack([result.intervals for result in results]),
        states=stack([result.states for result in results]),
        dimensions=stack([result.dimensions for result in results]),
        capped=stack([result.capped for result in results]),
        nonfinite=stack([result.nonfinite for result in results]),
        ties=stack([result.ties for result in results]),
    )


def warn_about_cells(
    measures: SlabMeasures, epochs: Sequence[int], layers: Sequence[str], dimensions: Sequence[str] = ()
) -> None:
    """One warning per (epoch, layer) whose activations held NaN or inf (its measures are NaN), and one per
    dimension estimator that discarded tied points, with the count (in the main process, not in a worker)."""
    for epoch_index, layer_index in zip(*np.nonzero(measures.nonfinite)):
        warnings.warn(
            f"estimate: epoch {int(epochs[epoch_index])}, layer {layers[layer_index]!r}: the activations hold NaN "
            "or inf (training diverged?); every measure of this cell is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    for position, name in enumerate(dimensions):
        discarded = measures.ties[..., position]
        if np.any(discarded > 0):
            warnings.warn(
                f"estimate: {name} discarded {int(discarded.sum())} tied points (equal first and second neighbour "
                f"distances, mu = 1) over {int(np.count_nonzero(discarded))} (epoch, layer) cells; it is NaN where "
                "fewer than 3 untied points remained (lattice or rounded activations)",
                RuntimeWarning,
                stacklevel=2,
            )


def drop_incomplete_windows(window: int, epochs: np.ndarray, *arrays: np.ndarray | None) -> tuple:
    """The first window - 1 epochs have no full window: leave them out of ``epochs`` and every (epoch, ...) array."""
    keep = slice(window - 1, None)
    return (np.asarray(epochs)[keep], *(None if array is None else array[keep] for array in arrays))


class GroupLayout(NamedTuple):
    """How the estimate tasks were laid out: split-major (None: one split), then reduction (None: no named
    reductions), then trial, then layer, each the same epoch tasks (``ibpipe.io.layers.layer_tasks``)."""

    splits: list[str | None]
    reductions: list[str | None]
    n_trials: int
    n_layers: int


def assemble_metrics(
    results: list[SlabMeasures],
    layout: GroupLayout,
    window: int,
    epochs: np.ndarray,
    layers: Sequence[str],
    dataset: Callable[[SlabMeasures, np.ndarray, str | None], xr.Dataset],
    dimensions: Sequence[str] = (),
) -> xr.Dataset:
    """One metrics Dataset (``dataset(measures, epochs, split)`` per (split, reduction, trial)) joined along
    ``trial`` (last dim), with named reductions along ``reduction``, with several splits along ``split``
    (attrs such as H_X, H_Y: the first split's; per split they are variables ``H_X``, ``H_Y``)."""
    groups = len(layout.splits) * len(layout.reductions) * layout.n_trials
    per_group = len(results) // groups
    per_split = groups // len(layout.splits)
    parts = []
    for group in range(groups):
        measures = stack_task_results(results[group * per_group : (group + 1) * per_group], layout.n_layers)
        kept_epochs, *kept = drop_incomplete_windows(window, epochs, *measures)
        measures = SlabMeasures(*kept)
        warn_about_cells(measures, kept_epochs, layers, dimensions)
        parts.append(dataset(measures, kept_epochs, layout.splits[group // per_split]))
    join = {"coords": "minimal", "compat": "override", "combine_attrs": "override"}

    def joined(items: list[xr.Dataset], dim: str, values: list) -> xr.Dataset:
        return items[0] if values == [None] else xr.concat(items, dim=dim, **join).assign_coords({dim: values})

    trials = [
        joined(parts[start : start + layout.n_trials], "trial", list(range(layout.n_trials)))
        for start in range(0, groups, layout.n_trials)
    ]
    trials = [item if "trial" in item.dims else item.expand_dims(trial=[0]) for item in trials]
    n_reductions = len(layout.reductions)
    reductions = [
        joined(trials[start : start + n_reductions], "reduction", layout.reductions)
        for start in range(0, len(trials), n_reductions)
    ]
    if layout.splits != [None]:
        sources = {"H_X": [r.attrs["H_X"] for r in reductions], "H_Y": [r.attrs["H_Y"] for r in reductions]}
    metrics = joined(reductions, "split", layout.splits)
    if layout.splits != [None]:
        for name, values in sources.items():
            metrics[name] = ("split", np.asarray(values), {"units": "bit", "long_name": f"{name} of each split"})
    order = [dim for dim in ("split", "reduction", "trial") if dim in metrics.dims]
    return metrics.transpose(..., *order)
