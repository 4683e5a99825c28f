"""The estimate run: (split, reduction, trial, layer, epochs) tasks that each read their slab from the
Zarr stores and return a Dataset labelled with its own coordinates, combined by those labels."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.errors import InputError
from ibpipe.estimators.registry import needs
from ibpipe.estimators.rowkeys import bounded_row_keys
from ibpipe.infoplane.measure import NONFINITE, TIES_SUFFIX

# A task measures up to this many epochs of one layer, never crossing a shard (a shard's chunk is
# then read and decompressed once, not once per few epochs), fewer where the pairwise methods'
# activations of that many epochs would not fit a worker's memory (``task_epochs``). Small tasks
# (4 epochs: 1242 of them in the default run) spent more on reading and scheduling than on measuring.
EPOCHS_PER_TASK = 64
# The labels a task's Dataset carries besides epoch, outermost first (the order of the metrics dims' tail).
GROUP_DIMS = ("split", "reduction", "trial")


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


@dataclass(frozen=True)
class EstimateCell:
    """One task: epochs [start, stop) of ``layer`` (at ``path`` in the codes store) of one trial, named
    reduction (None: the only one) and measured split (None: every sample)."""

    path: str
    layer: str
    start: int
    stop: int
    split: str | None
    reduction: str | None
    trial: int


def estimate_cells(root, epochs_per_task: int = EPOCHS_PER_TASK) -> list[EstimateCell]:
    """Every task of a codes store: epoch ranges of at most ``epochs_per_task``, never crossing a shard."""
    from ibpipe.io.layers import (
        layer_names,
        layer_slabs,
        reduction_prefix,
        store_reductions,
        store_splits,
        store_trials,
        trial_prefix,
    )

    groups = itertools.product(store_splits(root), store_reductions(root), range(store_trials(root)), layer_names(root))
    cells = []
    for split, reduction, trial, layer in groups:
        path = reduction_prefix(reduction) + trial_prefix(trial) + layer
        for slab, _ in layer_slabs(root, path, "code", read=False):
            for start in range(slab.start, slab.stop, epochs_per_task):
                stop = min(start + epochs_per_task, slab.stop)
                cells.append(EstimateCell(path, layer, start, stop, split, reduction, trial))
    return cells


def task_epochs(n_rows: int, layer_widths: dict, params: Any) -> int:
    """Epochs per task: the most, up to ``EPOCHS_PER_TASK``, whose pairwise plan fits ``estimate.memory_limit``
    (1 when none does; ``check_plan`` then refuses the run)."""
    from ibpipe.infoplane.capping import MB, plan_pairwise

    epochs = EPOCHS_PER_TASK
    while epochs > 1 and plan_pairwise(n_rows, layer_widths, params, epochs).peak_bytes > params.memory_limit * MB:
        epochs //= 2
    return epochs


def measure_cell(cell: EstimateCell, *, epochs: np.ndarray, widths: dict, **store) -> xr.Dataset:
    """The Dask task: the cell's measures (``stored_slab_information``), labelled (``labelled``)."""
    return labelled(stored_slab_information(cell, **store), cell, epochs, widths)


def labelled(measures: xr.Dataset, cell: EstimateCell, epochs: np.ndarray, widths: dict) -> xr.Dataset:
    """One slab's measures labelled by epoch (of ``epochs``, the store's), layer (with its widths: ``widths``
    is {"layer_width": {layer: units}, "code_width": {...}}), trial and, where named, reduction and split."""
    measures = measures.assign_coords(epoch=np.asarray(epochs[cell.start : cell.stop]))
    measures = measures.expand_dims(layer=[cell.layer])
    measures = measures.assign_coords({name: ("layer", [by_layer[cell.layer]]) for name, by_layer in widths.items()})
    labels = {"split": cell.split, "reduction": cell.reduction, "trial": cell.trial}
    return measures.expand_dims({dim: [labels[dim]] for dim in reversed(GROUP_DIMS) if labels[dim] is not None})


def stored_slab_information(
    cell: EstimateCell,
    *,
    codes_path: str,
    activations_path: str,
    labels: np.ndarray,
    x_ids: np.ndarray,
    params: Any,
    noise_std: float = 0.0,
    splits: dict | None = None,
) -> xr.Dataset:
    """Read epochs [start, stop) of one layer (and the window's earlier epochs) from the stores, then
    measure. ``cell.split`` names a measured split (``splits[split]``: its sample positions): only those
    samples are measured, as if they were the whole store."""
    from ibpipe.estimators.pairwise import settings
    from ibpipe.infoplane.capping import pairwise_budget_bytes, pairwise_rows, split_slab_information
    from ibpipe.io.layers import activation_group, read_nonfinite, read_pre_noise, read_slab

    first, stop = max(0, cell.start - params.window + 1), cell.stop
    codes = stored_state_ids(codes_path, cell.path, first, stop)
    positions = None if cell.split is None else np.asarray(splits[cell.split])
    if positions is not None:
        codes, labels, x_ids = _dense(codes[:, positions]), labels[positions], _dense(x_ids[positions])
    wanted = needs(params.estimators, "activations") or bool(params.dimensions)
    rows = pairwise_rows(params, len(labels))  # the cost cap: only these rows are read for the pairwise methods
    stored_rows = rows if positions is None else (positions if rows is None else positions[rows])
    source = activation_group(cell.path)  # named reductions share one trial's activations
    activations = read_slab(activations_path, source, "activation", first, stop, stored_rows) if wanted else None
    nonfinite = read_nonfinite(codes_path, cell.path, first, stop)
    draws = read_pre_noise(activations_path, source, first, stop) if needs(params.estimators, "pre_noise") else None
    if draws is not None and stored_rows is not None:
        draws = draws[:, stored_rows]
    slab = {"lead": cell.start - first, "nonfinite": nonfinite, "pre_noise_slab": draws, "noise_std": noise_std}
    with settings(memory_limit=pairwise_budget_bytes(params), device=params.device):
        return split_slab_information(params, labels, x_ids, codes, activations, rows, **slab)


def combine_cells(parts: list[xr.Dataset]) -> xr.Dataset:
    """The tasks' Datasets as one, concatenated along each of their labels (groups in task order)."""
    outer = [dim for dim in (*GROUP_DIMS, "layer") if dim in parts[0].dims]
    join = {"coords": "different", "compat": "equals", "join": "exact", "combine_attrs": "override"}
    return xr.combine_nested(_nested(parts, outer), concat_dim=[*outer, "epoch"], **join)


def _nested(parts: list[xr.Dataset], dims: list[str]) -> list:
    """``parts`` as nested lists, one level per dim of ``dims``, grouped by their coordinate along it."""
    if not dims:
        return parts
    groups: dict[Any, list[xr.Dataset]] = {}
    for part in parts:
        groups.setdefault(part[dims[0]].item(), []).append(part)
    return [_nested(group, dims[1:]) for group in groups.values()]


def warn_about_cells(measures: xr.Dataset) -> None:
    """One warning per (epoch, layer) whose activations held NaN or inf (its measures are NaN), and one per
    dimension estimator that discarded tied points, with the count (in the main process, not in a worker)."""
    flagged = measures[NONFINITE].stack(cell=measures[NONFINITE].dims)
    for cell in flagged[flagged.values].cell.values:
        epoch, layer = (dict(zip(flagged.indexes["cell"].names, cell))[dim] for dim in ("epoch", "layer"))
        warnings.warn(
            f"estimate: epoch {int(epoch)}, layer {layer!r}: the activations hold NaN "
            "or inf (training diverged?); every measure of this cell is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    for name in [name for name in measures.data_vars if name.endswith(TIES_SUFFIX)]:
        discarded = measures[name].values
        if np.any(discarded > 0):
            warnings.warn(
                f"estimate: {_estimator_of(name)} discarded {int(discarded.sum())} tied points (equal first and "
                f"second neighbour distances, mu = 1) over {int(np.count_nonzero(discarded))} (epoch, layer) cells; "
                "it is NaN where fewer than 3 untied points remained (lattice or rounded activations)",
                RuntimeWarning,
                stacklevel=2,
            )


def _estimator_of(ties_variable: str) -> str:
    from ibpipe.dimension.registry import DIMENSION_ESTIMATORS

    variable = ties_variable.removesuffix(TIES_SUFFIX)
    return next(name for name, info in DIMENSION_ESTIMATORS.items() if info.variable == variable)


def estimate_run(params: Any, codes: str, activations: str, attrs: dict[str, str]) -> xr.Dataset:
    """The metrics Dataset of a codes store (and the activations behind it): every estimator of ``params``
    (the estimate section) per (epoch, layer) of every trial, named reduction and measured split, with the
    compression statistics; ``attrs`` (the params that made the inputs) join the run's own."""
    from ibpipe.infoplane.capping import cap_attrs, check_plan, plan_pairwise
    from ibpipe.infoplane.compression import add_compression
    from ibpipe.infoplane.metrics import metrics_dataset
    from ibpipe.io.attrs import ACTIVATION_WIDTHS_ATTR, NOISE_STD_ATTR
    from ibpipe.io.layers import (
        layer_widths,
        open_layer_store,
        read_array,
        store_splits,
    )
    from ibpipe.io.stores import store_location
    from ibpipe.parallel import dask_client, run_tasks

    root, source = open_layer_store(codes), open_layer_store(activations)
    noise_std, epochs = float(source.attrs.get(NOISE_STD_ATTR, 0.0)), read_array(root, "epoch")
    _check_inputs(params, noise_std, epochs, read_array(source, "epoch"), codes, activations)
    labels, x_ids, splits = read_array(root, "labels"), read_array(root, "x_id"), store_splits(root)
    widths = {"layer_width": {name: int(width) for name, width in root.attrs[ACTIVATION_WIDTHS_ATTR].items()}}
    widths["code_width"] = layer_widths(root)
    epochs_per_task = task_epochs(len(labels), widths["layer_width"], params)
    plan = plan_pairwise(len(labels), widths["layer_width"], params, epochs_per_task)
    check_plan(plan, params)  # refuse before any work when a worker would exceed estimate.memory_limit
    shared = {
        # Paths or fsspec URLs, as workers elsewhere can open them
        "codes_path": store_location(codes),
        "activations_path": store_location(activations),
        "labels": labels,
        "x_ids": x_ids,
        "params": params,
        "noise_std": noise_std,
        "epochs": epochs,
        "splits": {name: positions for name, positions in splits.items() if name is not None},
        "widths": widths,
    }
    with dask_client(params.scheduler, params.workers, "estimate.scheduler", plan.peak_bytes) as client:
        tasks = [(cell,) for cell in estimate_cells(root, epochs_per_task)]
        parts = run_tasks(client, measure_cell, tasks, shared, "estimate")
    measures = combine_cells(parts).isel(epoch=slice(params.window - 1, None))  # only epochs with a full window
    warn_about_cells(measures)
    measures = measures.drop_vars([name for name in measures.data_vars if name.endswith(TIES_SUFFIX)] + [NONFINITE])
    run_attrs = {**attrs, **cap_attrs(plan, params)}
    return add_compression(metrics_dataset(measures, params, labels, x_ids, splits, run_attrs))


def _check_inputs(params: Any, noise_std: float, epochs, activation_epochs, codes: str, activations: str) -> None:
    if "sample-propagation" in params.estimators and noise_std <= 0:
        raise InputError(
            "estimate.estimators names sample-propagation, which measures noisy networks; "
            "set model.noise_std > 0 (e.g. 0.05) or remove it"
        )
    if not np.array_equal(activation_epochs, epochs):
        raise InputError(f"{codes} and {activations} hold different epochs; run `dvc repro` to rebuild the codes")
    if params.window > len(epochs):
        raise InputError(
            f"estimate.window = {params.window} but only {len(epochs)} epochs were measured; lower the window"
        )
