"""Every estimator on tasks with a known answer, at several N: bias and spread per estimator, as a Markdown table.

Run: python benchmarks/validate_estimators.py [n_repeats] [largest N]   (defaults 3, 8000; ~minutes on 2 cores)

Tasks (truths in bits; the noise model is part of the task):
- gaussian-d (d = 1, 5, 20): X ~ N(0, S), S_ij = 0.5 + 0.5 [i = j] (correlated), T = X measured as
  T + N(0, s2 I) with s2 = 0.25, 1, 4: I(X;T) = (1/2) sum_i log2(1 + lambda_i(S) / s2) (the Gaussian
  channel; X is the N sampled inputs, so at small N the finite mixture sits below the continuous truth).
- channel-16: X uniform on 16 inputs, each a point of a 4 x 4 grid of spacing 1 (codes: the input);
  Y = X mod 2 flipped with probability 0.1: I(X;T) = 4, I(T;Y) = 1 - h(0.1) = 0.531.
- clusters-4: Y uniform on 4 classes, T | Y ~ N(mu_Y, I_2) with the means 20 apart (codes: floor(T));
  I(T;Y) = H(Y) = 2.
- tishby12: the 4096 12-bit inputs of Shwartz-Ziv & Tishby, N of them drawn without replacement,
  T = the input (codes: the pattern): I(X;T) = log2 N, I(T;Y) = H(Y) of the drawn rows.
Activation estimators use s2 = 1e-3 except on gaussian-d; gaussian-20 stops at N = 2000 (cost).
Counting estimators (plugin, miller-madow) have no codes on gaussian-d ("-"). A cell is
mean(estimate - truth) ± standard deviation over repeats.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ibpipe.data.tishby12 import load_tishby12
from ibpipe.estimators.registry import ESTIMATORS, estimate_layer

NAMES = list(ESTIMATORS)
GAUSSIAN_NOISE = {1: 0.25, 5: 1.0, 20: 4.0}


def _gaussian(d, n, generator):
    cov = np.full((d, d), 0.5) + 0.5 * np.eye(d)
    x = generator.multivariate_normal(np.zeros(d), cov, size=n)
    truth = 0.5 * np.sum(np.log2(1 + np.linalg.eigvalsh(cov) / GAUSSIAN_NOISE[d]))
    return (
        {"activations": x, "codes": None, "labels": np.zeros(n, int), "x_ids": None},
        {"I_XT": truth},
        GAUSSIAN_NOISE[d],
    )


def _channel(n, generator):
    x = generator.integers(0, 16, n)
    y = np.where(generator.random(n) < 0.1, 1 - x % 2, x % 2)
    grid = np.stack([x % 4, x // 4], axis=1).astype(float)
    h = -(0.1 * np.log2(0.1) + 0.9 * np.log2(0.9))
    layer = {"activations": grid, "codes": x[:, None], "labels": y, "x_ids": x}
    return layer, {"I_XT": 4.0, "I_TY": 1 - h}, 1.0e-3


def _clusters(n, generator):
    y = generator.integers(0, 4, n)
    means = 20.0 * np.stack([y % 2, y // 2], axis=1)
    t = means + generator.normal(size=(n, 2))
    return {"activations": t, "codes": np.floor(t).astype(np.int64), "labels": y, "x_ids": None}, {"I_TY": 2.0}, 1e-3


def _tishby(n, generator):
    patterns, labels = load_tishby12()
    rows = generator.choice(len(patterns), size=min(n, len(patterns)), replace=False)
    counts = np.bincount(labels[rows])
    p = counts[counts > 0] / len(rows)
    layer = {
        "activations": patterns[rows].astype(float),
        "codes": patterns[rows].astype(np.int64),
        "labels": labels[rows],
        "x_ids": None,
    }
    return layer, {"I_XT": np.log2(len(rows)), "I_TY": float(-(p * np.log2(p)).sum())}, 1.0e-3


TASKS = {
    "gaussian-1": lambda n, g: _gaussian(1, n, g),
    "gaussian-5": lambda n, g: _gaussian(5, n, g),
    "gaussian-20": lambda n, g: _gaussian(20, n, g),
    "channel-16": _channel,
    "clusters-4": _clusters,
    "tishby12": _tishby,
}


def run(n_repeats: int = 3, largest: int = 8000) -> list[list[str]]:
    sizes = [n for n in (500, 2000, 8000) if n <= largest]
    rows = []
    for task, make in TASKS.items():
        for n in sizes:
            if task == "tishby12" and n > 4096:
                n = 4096  # all the 12-bit inputs
            if task == "gaussian-20" and n > 2000:
                continue  # knn on 8 x 8000 draws in 20-D takes minutes per repeat on 2 cores
            errors: dict[tuple[str, str], list[float]] = {}
            truths = {}
            seconds = dict.fromkeys(NAMES, 0.0)
            for repeat in range(n_repeats):
                layer, truths, noise = make(n, np.random.default_rng(1000 * repeat + n))
                for name in NAMES:
                    if ESTIMATORS[name].needs == "codes" and layer["codes"] is None:
                        continue
                    start = time.perf_counter()
                    values = estimate_layer(
                        [name],
                        layer["labels"],
                        codes=layer["codes"],
                        activations=layer["activations"],
                        x_ids=layer["x_ids"],
                        noise_variance=noise,
                        seed=repeat,
                    )[name]
                    seconds[name] += time.perf_counter() - start
                    for quantity, truth in truths.items():
                        errors.setdefault((quantity, name), []).append(values[quantity] - truth)
            for quantity, truth in truths.items():
                cells = []
                for name in NAMES:
                    found = errors.get((quantity, name))
                    cells.append("-" if found is None else f"{np.mean(found):+.2f} ± {np.std(found):.2f}")
                rows.append([task, quantity, f"{truth:.2f}", str(n), *cells])
            slowest = max(seconds, key=seconds.get)
            print(
                f"# {task} N={n}: slowest {slowest} {seconds[slowest] / n_repeats:.1f} s", file=sys.stderr, flush=True
            )
    return rows


def main(n_repeats: int = 3, largest: int = 8000) -> None:
    rows = run(n_repeats, largest)
    header = ["task", "quantity", "truth (bit)", "N", *NAMES]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
