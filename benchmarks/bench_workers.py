"""The estimate stage's Dask fan-out with 1 against 2 local process workers.

Builds synthetic codes and activations stores (default 48 epochs, the 12-bit network's
layer widths, 4096 samples), then times the (layer, epoch-slab) tasks of the default
estimators on a LocalCluster of 1 and of 2 workers. Cluster start-up is excluded.

Run: python benchmarks/bench_workers.py [n_epochs]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

from ibpipe.config.estimate import EstimateParams
from ibpipe.estimators.binning import fixed_width_codes
from ibpipe.infoplane.tasks import estimate_cells, stored_slab_information
from ibpipe.io.arrays import write_array
from ibpipe.io.layers import LayerStoreWriter, open_layer_store, write_layer_store_header
from ibpipe.parallel import dask_client, run_tasks

WIDTHS = {"hidden1": 10, "hidden2": 7, "hidden3": 5, "hidden4": 4, "hidden5": 3, "output": 2}
SHAPES = {layer: (width,) for layer, width in WIDTHS.items()}
N_BINS = 30


def build_stores(directory: Path, n_epochs: int, n_samples: int = 4096) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n_samples)
    epochs = np.arange(n_epochs)
    paths = directory / "activations.zarr", directory / "codes.zarr"
    roots = [zarr.open_group(path, mode="w") for path in paths]
    for root in roots:
        write_layer_store_header(
            root,
            epochs=epochs,
            sample_rows=np.arange(n_samples),
            inputs=np.eye(n_samples, 1),
            labels=labels,
            shapes=SHAPES,
            attrs={},
        )
    writers = [
        LayerStoreWriter(
            root, variable, shapes=SHAPES, epochs=epochs, n_samples=n_samples, epochs_per_shard=16, dtype=dtype
        )
        for root, variable, dtype in zip(roots, ("activation", "code"), ("float32", "int32"))
    ]
    for slab in writers[0].slabs():
        activations = {
            layer: np.tanh(rng.normal(scale=2, size=(slab.stop - slab.start, n_samples, width))).astype("float32")
            for layer, width in WIDTHS.items()
        }
        writers[0].write(slab, activations)
        writers[1].write(
            slab, {layer: fixed_width_codes(values, N_BINS, (-1.0, 1.0)) for layer, values in activations.items()}
        )
    for layer, width in WIDTHS.items():  # the code bounds the estimate tasks key rows against
        write_array(roots[1][layer], "code_low", np.zeros(width, dtype=np.int64), ("unit",))
        write_array(roots[1][layer], "code_high", np.full(width, N_BINS + 1, dtype=np.int64), ("unit",))
        write_array(roots[1][layer], "nonfinite", np.zeros(n_epochs, dtype=np.int64), ("epoch",))
    return paths


def main(n_epochs: int = 48) -> None:
    with tempfile.TemporaryDirectory() as directory:
        activations, codes = build_stores(Path(directory), n_epochs)
        root = open_layer_store(codes)
        estimators = ["plugin", "miller-madow", "kde-upper", "kde-lower"]
        params = EstimateParams(estimators=estimators, dimensions=[], max_pairwise_samples=0)
        shared = {
            "codes_path": str(codes),
            "activations_path": str(activations),
            "labels": root["labels"][...],
            "x_ids": np.arange(4096),
            "params": params,
        }
        tasks = [(cell,) for cell in estimate_cells(root)]  # as the estimate stage cuts them
        timings = {}
        for workers in (1, 2):
            with dask_client("local", workers) as client:
                start = time.perf_counter()
                run_tasks(client, stored_slab_information, tasks, shared, f"{workers} worker(s)")
                timings[workers] = time.perf_counter() - start
        print(
            f"{n_epochs} epochs x {len(WIDTHS)} layers, {len(tasks)} tasks: 1 worker {timings[1]:.1f} s, "
            f"2 workers {timings[2]:.1f} s, speed-up {timings[1] / timings[2]:.2f}x"
        )


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
