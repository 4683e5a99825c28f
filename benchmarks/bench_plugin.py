"""Plug-in H(T), I(X;T), I(T;Y) per (epoch, layer): ibpipe against the published way and the floor.

naive: what the published tools do -- bin (IDNNs: float64 left bin edges; Saxe: int64
       floor), view each row as one void scalar, np.unique over the rows, then one more
       np.unique pass per class for H(T|Y).
floor: one numpy pass over the activations, np.floor(t / bin_size) (for W1 with the
       width of Tishby's bins), the least any binned estimator must spend.

Workloads (identical synthetic data for all three):
  W1  4096 rows, layers [10, 7, 5, 4, 3, 2], tanh-like values, 30 Tishby bins on [-1, 1]
  W2  10000 rows, layers [1024, 20, 20, 20], ReLU-like values, Saxe bin size 0.5

ours: ``ibpipe.information`` -- binning, row hashing and counting in one compiled pass
(ibpipe/estimators/counting.py), then the entropies from the state ids.

Run: python benchmarks/bench_plugin.py
"""

from __future__ import annotations

import numpy as np
from _common import best_time, print_table

from ibpipe import information


def naive_information(binned: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The published recipe: each binned row (as the tools store it) viewed as one void scalar."""

    def entropy_of_rows(rows):
        rows = np.ascontiguousarray(rows)
        as_void = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))
        _, counts = np.unique(as_void, return_counts=True)
        p = counts / counts.sum()
        return -np.sum(p * np.log2(p))

    h_t = entropy_of_rows(binned)
    h_t_given_y = sum(np.mean(labels == y) * entropy_of_rows(binned[labels == y]) for y in np.unique(labels))
    return {"H_T": h_t, "I_XT": h_t, "I_TY": h_t - h_t_given_y}


TISHBY_EDGES = np.linspace(-1, 1, 30)


def tishby_binning(t: np.ndarray) -> np.ndarray:
    """IDNNs: every value replaced by the left edge of its bin, as float64."""
    return TISHBY_EDGES[np.digitize(t.astype(np.float64), TISHBY_EDGES) - 1]


def saxe_binning(t: np.ndarray) -> np.ndarray:
    """Saxe et al.'s simplebinmi: floor(t / bin_size) as the platform int (int64)."""
    return np.floor(t / 0.5).astype("int")


def workloads(rng: np.random.Generator):
    labels_w1 = rng.integers(0, 2, 4096)
    for width in (10, 7, 5, 4, 3, 2):
        t = np.tanh(rng.normal(scale=1.5, size=(4096, width)) + labels_w1[:, None] * 0.5).astype(np.float32)
        yield "W1", width, t, labels_w1, {"n_bins": 30, "value_range": (-1.0, 1.0)}, tishby_binning
    labels_w2 = rng.integers(0, 10, 10000)
    for width in (1024, 20, 20, 20):
        t = np.maximum(rng.normal(scale=2.0, size=(10000, width)) + labels_w2[:, None] * 0.1, 0).astype(np.float32)
        yield "W2", width, t, labels_w2, {"bin_size": 0.5}, saxe_binning


def main() -> None:
    rng = np.random.default_rng(0)
    rows, totals = [], {}
    for name, width, t, labels, options, binning in workloads(rng):
        repeats = 20  # best of many: the machine may be shared, and the small layers take well under 1 ms
        ours = best_time(
            lambda t=t, labels=labels, options=options: information(t, labels, "plugin", **options), repeats
        )
        naive = best_time(lambda t=t, labels=labels, binning=binning: naive_information(binning(t), labels), repeats)
        bin_size = options.get("bin_size", 2.0 / 29)
        floor = best_time(lambda t=t, bin_size=bin_size: np.floor(t / bin_size), repeats)
        a, b = information(t, labels, "plugin", **options), naive_information(binning(t), labels)
        assert all(abs(a[q] - b[q]) < 1e-9 for q in a), (a, b)
        rows.append(
            [
                name,
                width,
                f"{ours * 1e3:.2f}",
                f"{naive * 1e3:.2f}",
                f"{floor * 1e3:.2f}",
                f"{naive / ours:.1f}x",
                f"{ours / floor:.1f}x",
            ]
        )
        for key, value in (("ours", ours), ("naive", naive), ("floor", floor)):
            totals[(name, key)] = totals.get((name, key), 0.0) + value
    print_table(["work", "width", "ours ms", "naive ms", "floor ms", "naive/ours", "ours/floor"], rows)
    for name in ("W1", "W2"):
        ours, naive, floor = (totals[(name, k)] for k in ("ours", "naive", "floor"))
        print(
            f"{name} all layers: ours {ours * 1e3:.1f} ms, {naive / ours:.1f}x faster than naive, "
            f"{ours / floor:.1f}x the floor"
        )
    print("targets: >= 10x naive on W2, >= 5x naive on W1, <= 1.5x the floor on W2 (the 1024-unit layer dominates)")


if __name__ == "__main__":
    main()
