"""DVC stage `estimate`: H(T), I(X;T), I(T;Y) per (epoch, layer, estimator), fanned out over Dask."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.estimate import EstimateParams
from ibpipe.errors import InputError
from ibpipe.infoplane.capping import cap_attrs, check_plan, plan_pairwise
from ibpipe.infoplane.compression import add_compression
from ibpipe.infoplane.measure import EstimateOptions, SlabMeasures
from ibpipe.infoplane.metrics import metrics_dataset, metrics_summary
from ibpipe.infoplane.tasks import GroupLayout, assemble_metrics, stored_slab_information
from ibpipe.io.attrs import NOISE_STD_ATTR
from ibpipe.io.files import write_json, write_metrics
from ibpipe.io.layers import (
    layer_tasks,
    layer_widths,
    open_layer_store,
    read_array,
    store_reductions,
    store_splits,
    store_trials,
)
from ibpipe.io.stage import run_stage
from ibpipe.io.stores import store_location
from ibpipe.parallel import dask_client, run_tasks

# Small tasks balance the workers (a KDE task costs ~0.1 s per epoch on the 12-bit network);
# each still reads whole epochs, the unit a shard stores as one chunk.
EPOCHS_PER_TASK = 4


def main(
    params_file: Path = Path("params.yaml"),
    codes: str = "data/codes.zarr",
    activations: str = "data/activations.zarr",
    out: Path = Path("reports/metrics.nc"),
    summary: Path = Path("reports/metrics.json"),
) -> None:
    (choice,) = load_sections(params_file, EstimateParams)
    options = EstimateOptions.from_params(choice)
    root = open_layer_store(codes)
    noise_std = float(open_layer_store(activations).attrs.get(NOISE_STD_ATTR, 0.0))
    if "sample-propagation" in options.estimators and noise_std <= 0:
        raise InputError(
            "estimate.estimators names sample-propagation, which measures noisy networks; "
            "set model.noise_std > 0 (e.g. 0.05) or remove it"
        )
    options = replace(options, noise_std=noise_std)
    code_widths = layer_widths(root)
    widths = {layer: int(width) for layer, width in root.attrs["activation_widths"].items()}
    epochs = read_array(root, "epoch")
    if not np.array_equal(read_array(open_layer_store(activations), "epoch"), epochs):
        raise InputError(f"{codes} and {activations} hold different epochs; run `dvc repro` to rebuild the codes")
    if choice.window > len(epochs):
        raise InputError(
            f"estimate.window = {choice.window} but only {len(epochs)} epochs were measured; lower the window"
        )
    labels, x_ids = read_array(root, "labels"), read_array(root, "x_id")
    plan = plan_pairwise(len(labels), widths, options, EPOCHS_PER_TASK)
    check_plan(plan, options)  # refuse before any work when a worker would exceed estimate.memory_limit
    shared = {
        # Paths or fsspec URLs, as workers elsewhere can open them
        "codes_path": store_location(codes),
        "activations_path": store_location(activations),
        "labels": labels,
        "x_ids": x_ids,
        "options": options,
        "splits": {name: positions for name, positions in store_splits(root).items() if name is not None},
    }
    splits = list(store_splits(root))
    # split-major: every split measures every (reduction, trial, layer, epochs) task
    tasks = [(*task, split) for split in splits for task in layer_tasks(root, "code", EPOCHS_PER_TASK)]
    with dask_client(choice.scheduler, choice.workers) as client:
        results = run_tasks(client, stored_slab_information, tasks, shared, "estimate")
    attrs = {
        "params": sections_json(choice, upstream=root.attrs.get("params")),
        "reductions": root.attrs.get("reductions", "{}"),
        **cap_attrs(plan, options),
    }

    def dataset(measures: SlabMeasures, kept_epochs: np.ndarray, split: str | None):
        rows = slice(None) if split is None else shared["splits"][split]
        return metrics_dataset(
            measures.points,
            measures.intervals,
            kept_epochs,
            widths,
            options,
            labels[rows],
            x_ids[rows],
            attrs,
            states=measures.states,
            code_widths=code_widths,
            dimensions=measures.dimensions,
            capped=measures.capped,
        )

    groups = GroupLayout(splits, store_reductions(root), store_trials(root), len(code_widths))
    metrics = add_compression(
        assemble_metrics(results, groups, choice.window, epochs, list(code_widths), dataset, options.dimensions)
    )
    write_metrics(out, metrics)
    write_json(summary, metrics_summary(metrics))


if __name__ == "__main__":
    run_stage(main)
