"""DVC stage `estimate`: H(T), I(X;T), I(T;Y) per (epoch, layer, estimator), fanned out over Dask."""

from pathlib import Path

import numpy as np

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.measure import metrics_dataset, metrics_summary, stored_slab_information
from ibpipe.parallel import dask_client, run_tasks
from ibpipe.stage import run_stage


def main(
    params_file: Path = Path("params.yaml"),
    codes: Path = Path("data/codes.zarr"),
    out: Path = Path("reports/metrics.nc"),
    summary: Path = Path("reports/metrics.json"),
) -> None:
    params = load_params(params_file)
    choice = params.estimate
    root = store.open_layer_store(codes)
    widths = store.layer_widths(root)
    epochs = root["epoch"][...]
    shared = {"labels": root["labels"][...], "x_ids": root["x_id"][...], "estimators": list(choice.estimators)}
    tasks = [
        (str(codes.resolve()), layer, slab.start, slab.stop)
        for layer in widths
        for slab, _ in store.layer_slabs(root, layer, "code", read=False)
    ]
    with dask_client(choice.scheduler, choice.workers) as client:
        results = run_tasks(client, stored_slab_information, tasks, shared, "estimate")
    by_layer = np.concatenate(results).reshape(len(widths), len(epochs), len(choice.estimators), -1)
    metrics = metrics_dataset(by_layer.transpose(1, 0, 2, 3), epochs, widths, choice.estimators, shared["labels"], shared["x_ids"], {"params": params.to_json()})
    store.write_metrics(out, metrics)
    store.write_json(summary, metrics_summary(metrics))


if __name__ == "__main__":
    run_stage(main)
