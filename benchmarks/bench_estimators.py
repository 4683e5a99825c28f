"""The estimators' speed against the published code and the matmul floor, on identical data.

Counting (plug-in H(T), I(X;T), I(T;Y) of binned layers), per epoch, all layers:
  W1  4096 rows, layers [10, 7, 5, 4, 3, 2], tanh-like values, bin size 2/29, 2 classes
  W2  10000 rows, layers [1024, 20, 20, 20], ReLU-like values, bin size 0.5, 10 classes
  published: Saxe et al.'s ``simplebinmi.bin_calc_information2`` (github.com/artemyk/ibsgd), re-stated
      below: floor(t / bin_size) as int, each row viewed as one void scalar, np.unique over the rows,
      then once more per class for H(T|Y); one call per layer.
  ours: ``ibpipe.estimators.plugin.layers_information``, the epoch's layers binned, hashed and counted
      in one compiled call; and, for comparison, ``ibpipe.information`` once per layer.
  Targets: ours >= 5x published on W1 and >= 10x on W2.

KDE (both pairwise-distance bounds, Kolchinsky & Tracey):
  5000 rows x 3136 units (the thesis CNN's first convolutional layer), ReLU activations, float64,
  10 classes, s^2 = 0.1; ours = ``ibpipe.information(t, y, "kde-upper")`` then ``"kde-lower"``, one
  call per bound as a user makes them (the second reuses the first's pass); floor = one ``X @ X.T``.
  Target: both bounds <= 2x one X @ X.T. Peak memory: tracemalloc's peak of the numpy allocations of
  the two calls (input excluded) and the process's high-water mark (VmHWM, input and X @ X.T included).

KDE on narrow layers (the default run's cells: 4096 rows, layers [10, 7, 5, 4, 3, 2] of tanh-like values,
  2 classes, s^2 = 1e-3): both bounds per layer by the compiled sweep over the pairs within reach (ours)
  against the blocked numpy path that wide layers take (the narrow layers' path before), same numbers to ~1e-14.

Timing: median of ``--repeats`` (default 5) repeats that alternate ours and the reference, so a load
change hits both. The load average (``os.getloadavg``) is printed at start and end: figures measured
beside other jobs are loaded figures; quote them as such.

Run: python benchmarks/bench_estimators.py [--repeats 5] [--only counting|kde|kde-narrow]
     [--kde-rows 5000 --kde-units 3136]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import tracemalloc

import numpy as np

from ibpipe import information
from ibpipe.estimators import kde
from ibpipe.estimators.plugin import layers_information


def published_information(layer: np.ndarray, labels: np.ndarray, bin_size: float) -> tuple[float, float]:
    """Saxe et al.'s bin_calc_information2 (nats): H(T) and I(T;Y) of floor(t / bin_size), rows as void scalars."""

    def entropy(values):
        digitized = np.floor(values / bin_size).astype("int")
        rows = np.ascontiguousarray(digitized).view(np.dtype((np.void, digitized.dtype.itemsize * digitized.shape[1])))
        _, counts = np.unique(rows, return_counts=True)
        p = counts / float(sum(counts))
        return -np.sum(p * np.log(p))

    h_layer = entropy(layer)
    h_given_y = sum((labels == y).mean() * entropy(layer[labels == y]) for y in np.unique(labels))
    return h_layer, h_layer - h_given_y


def workload(name: str, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, float]:
    if name == "W1":
        labels = rng.integers(0, 2, 4096)
        layers = [
            np.tanh(rng.normal(scale=1.5, size=(4096, width)) + labels[:, None] * 0.5).astype(np.float32)
            for width in (10, 7, 5, 4, 3, 2)
        ]
        return layers, labels, 2.0 / 29
    labels = rng.integers(0, 10, 10000)
    layers = [
        np.maximum(rng.normal(scale=2.0, size=(10000, width)) + labels[:, None] * 0.1, 0).astype(np.float32)
        for width in (1024, 20, 20, 20)
    ]
    return layers, labels, 0.5


def timed(function, calls: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def alternating(functions: dict, repeats: int, calls: int = 1, before=None) -> dict[str, float]:
    """Median seconds per call of each function, the functions taking turns in every repeat."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            if before is not None:
                before()
            times[name].append(timed(function, calls))
    return {name: statistics.median(values) for name, values in times.items()}


def contenders(layers: list[np.ndarray], labels: np.ndarray, bin_size: float) -> dict:
    return {
        "published": lambda: [published_information(layer, labels, bin_size) for layer in layers],
        "ours": lambda: layers_information(layers, labels, bin_size=bin_size),
        "per-layer": lambda: [information(layer, labels, bin_size=bin_size) for layer in layers],
    }


def counting(repeats: int) -> None:
    print("counting: one epoch's layers, plug-in H(T), I(X;T), I(T;Y)")
    for name in ("W1", "W2"):
        layers, labels, bin_size = workload(name, np.random.default_rng(0))
        ours = layers_information(layers, labels, bin_size=bin_size)
        for layer, found in zip(layers, ours):
            h_t, i_ty = published_information(layer, labels, bin_size)
            assert abs(found["H_T"] - h_t / np.log(2)) < 1e-9 and abs(found["I_TY"] - i_ty / np.log(2)) < 1e-9
        calls = 20 if name == "W1" else 2  # W1 takes milliseconds: time several calls per repeat
        medians = alternating(contenders(layers, labels, bin_size), repeats, calls)
        published, batched, per_layer = medians["published"], medians["ours"], medians["per-layer"]
        target = 5 if name == "W1" else 10
        print(
            f"  {name}: published {published * 1e3:8.2f} ms, ours {batched * 1e3:7.2f} ms -> "
            f"{published / batched:5.1f}x (target >= {target}x); information() per layer "
            f"{per_layer * 1e3:7.2f} ms -> {published / per_layer:5.1f}x"
        )


def kde_bounds(repeats: int, n_rows: int, n_units: int) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n_rows)
    activations = np.maximum(rng.normal(size=(n_rows, n_units)) + labels[:, None] * 0.05, 0.0)

    def both_bounds():
        upper = information(activations, labels, "kde-upper", noise_variance=0.1)
        lower = information(activations, labels, "kde-lower", noise_variance=0.1)
        return upper, lower

    print(f"KDE: both bounds on {n_rows} x {n_units} ReLU activations (float64), s^2 0.1, one call per bound")
    kde.clear_cache()
    tracemalloc.start()
    both_bounds()
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Every repeat starts cold: the first call of a pair must not find the previous pair's pass.
    medians = alternating(
        {"matmul": lambda: activations @ activations.T, "ours": both_bounds}, repeats, before=kde.clear_cache
    )
    high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  one X @ X.T {medians['matmul']:.2f} s, both bounds {medians['ours']:.2f} s -> "
        f"{medians['ours'] / medians['matmul']:.2f}x the matmul (target <= 2x)"
    )
    print(
        f"  peak numpy allocations of the two calls {traced / 2**20:.0f} MB (input {activations.nbytes / 2**20:.0f} MB "
        f"besides); process high-water mark {high_water:.0f} MB (input, X @ X.T result and interpreter included)"
    )


def kde_narrow(repeats: int) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4096)
    layers = [
        np.tanh(rng.normal(scale=1.5, size=(4096, width)) + labels[:, None] * 0.5) for width in (10, 7, 5, 4, 3, 2)
    ]

    def bounds():
        return [kde.kde_information(layer, labels, 1.0e-3) for layer in layers]

    def blocked():
        saved, kde.FUSED_MAX_DIMS = kde.FUSED_MAX_DIMS, 0
        try:
            return bounds()
        finally:
            kde.FUSED_MAX_DIMS = saved

    kde.clear_cache()
    swept, reference = bounds(), (kde.clear_cache(), blocked())[1]
    for ours, theirs in zip(swept, reference):
        for bound in ("upper", "lower"):
            for quantity, value in ours[bound].items():
                assert abs(value - theirs[bound][quantity]) <= 1e-10 * max(1.0, abs(value)), (bound, quantity)
    print("KDE narrow: both bounds of 4096 rows x layers [10, 7, 5, 4, 3, 2] (tanh-like), s^2 1e-3, 2 classes")
    medians = alternating({"blocked": blocked, "ours": bounds}, repeats, before=kde.clear_cache)
    print(
        f"  blocked path {medians['blocked'] * 1e3:.0f} ms, compiled sweep {medians['ours'] * 1e3:.0f} ms -> "
        f"{medians['blocked'] / medians['ours']:.1f}x"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("counting", "kde", "kde-narrow"), default=None)
    parser.add_argument("--kde-rows", type=int, default=5000)
    parser.add_argument("--kde-units", type=int, default=3136)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    if args.only in (None, "counting"):
        counting(args.repeats)
    if args.only in (None, "kde"):
        kde_bounds(args.repeats, args.kde_rows, args.kde_units)
    if args.only in (None, "kde-narrow"):
        kde_narrow(args.repeats)
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
