"""KDE bounds at N = 10000, d = 1024 against one X @ X.T of the same size (the matmul floor).

Run: python benchmarks/bench_kde.py [n_samples] [n_units]
"""

from __future__ import annotations

import sys

import numpy as np
from _common import best_time

from ibpipe.estimators.kde import kde_information


def main(n_samples: int = 10000, n_units: int = 1024) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n_samples)
    activations = np.maximum(rng.normal(size=(n_samples, n_units)) + labels[:, None] * 0.05, 0.0)
    matmul = best_time(lambda: activations @ activations.T, repeats=2)
    ours = best_time(lambda: kde_information(activations, labels, noise_variance=0.1), repeats=2)
    print(
        f"N={n_samples} d={n_units}: X @ X.T {matmul:.2f} s, both KDE bounds {ours:.2f} s, "
        f"ratio {ours / matmul:.2f}x the matmul"
    )


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
