"""KDE bounds against one X @ X.T of the same size (the matmul floor), with peak memory.

Default size: N = 5000 rows of d = 3136 units (the thesis CNN's first convolutional layer).
Peak memory: tracemalloc's peak of numpy allocations during the KDE call, and the process's
VmHWM (the kernel's high-water mark, which also counts the BLAS buffers and the data).
Both bounds come from one pass over the pairwise distances (ibpipe.estimators.kde).

Run: python benchmarks/bench_kde.py [n_samples] [n_units]
"""

from __future__ import annotations

import resource
import sys
import tracemalloc

import numpy as np
from _common import best_time

from ibpipe.estimators.kde import kde_information

GB = 1e9


def main(n_samples: int = 5000, n_units: int = 3136) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n_samples)
    activations = np.maximum(rng.normal(size=(n_samples, n_units)) + labels[:, None] * 0.05, 0.0)
    matmul = best_time(lambda: activations @ activations.T, repeats=2)
    ours = best_time(lambda: kde_information(activations, labels, noise_variance=0.1), repeats=2)
    tracemalloc.start()
    kde_information(activations, labels, noise_variance=0.1)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"N={n_samples} d={n_units}: X @ X.T {matmul:.2f} s, both KDE bounds {ours:.2f} s, "
        f"ratio {ours / matmul:.2f}x the matmul (target <= 2x)"
    )
    print(
        f"peak numpy allocations in the KDE {traced / GB:.2f} GB (the input itself {activations.nbytes / GB:.2f} GB); "
        f"process VmHWM {high_water / GB:.2f} GB, including the input and the X @ X.T of the reference "
        f"({8 * n_samples**2 / GB:.2f} GB) (target < 1.5 GB)"
    )


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
