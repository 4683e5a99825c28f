"""Delta-skip against the log schedule on a trained run: epochs needed for the same guarantee.

Given the weights of a run (default: data/weights.zarr of the default experiment) and the
params in force, this measures
  - delta-exact with select.delta: epochs kept, epochs probed, largest gap distance, time;
  - the smallest log schedule (n_points searched by bisection) whose consecutive epochs
    are all within delta or adjacent, probing exactly the epochs that schedule keeps.

Run: python benchmarks/bench_selection.py [weights.zarr] [params.yaml]
"""

from __future__ import annotations

import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

from ibpipe.config.params import load_params
from ibpipe.infoplane.probing import parallel_probe, probe_setup
from ibpipe.infoplane.selection import delta_skip_exact, information_distance, log_spaced_epochs
from ibpipe.parallel import dask_client


def main(weights: str = "data/weights.zarr", params_file: str = "params.yaml") -> None:
    params = load_params(params_file)
    select_params = params.select
    shared, entropies = probe_setup(params, str(Path(weights).resolve()))
    n_epochs = params.train.epochs
    cache: dict[int, np.ndarray] = {}
    with dask_client("local", select_params.workers) as client:
        measure = parallel_probe(client, shared)

        def probe(epochs):
            missing = [e for e in epochs if e not in cache]
            for start in range(0, len(missing), 16):
                cache.update(measure(missing[start : start + 16]))
            return {e: cache[e] for e in epochs}

        started = time.perf_counter()
        exact = delta_skip_exact(n_epochs, probe, entropies, select_params.delta, select_params.factor)
        exact_seconds = time.perf_counter() - started
        gaps = zip(pairwise(exact["epochs"]), exact["distances"])
        non_adjacent = [d for (a, b), d in gaps if b - a > 1]
        print(
            f"delta-exact (delta {select_params.delta}): {len(exact['epochs'])} epochs kept, "
            f"{len(exact['probed'])} probed, "
            f"max gap distance {max(exact['distances']):.4f} (over non-adjacent gaps "
            f"{max(non_adjacent, default=0):.4f}), {exact_seconds:.1f} s"
        )

        def satisfies(n_points):
            epochs = log_spaced_epochs(n_epochs, n_points).tolist()
            measured = probe(epochs)
            worst = max(
                (information_distance(measured[a], measured[b], entropies) for a, b in pairwise(epochs) if b - a > 1),
                default=0.0,
            )
            return worst <= select_params.delta, len(epochs), worst

        low, high = 2, 400
        while not satisfies(high)[0]:
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if satisfies(middle)[0] else (middle, high)
        _, kept, worst = satisfies(high)
        print(f"log schedule: n_points {high} keeps {kept} epochs, max non-adjacent gap distance {worst:.4f}")
        print(
            f"delta-exact keeps {len(exact['epochs']) / kept:.0%} of the epochs "
            "the log schedule needs for the same guarantee"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
