"""k-NN estimators against a reference implementation and against the exact k-NN query alone.

    python benchmarks/bench_knn.py            # the sizes of the issue (minutes on 2 cores)
    python benchmarks/bench_knn.py --quick    # a smoke run

1. KSG (k = 3) on n samples of a (10-dim, 10-dim) Gaussian pair, rho = 0.3 per coordinate pair:
   ``ibpipe.mutual_information(x, y, "ksg")`` against NPEET's ``mi`` (``pip install npeet-plus``; its
   1e-10 jitter seeded) and against the exact max-norm k-NN query of the joint space alone (the
   compiled sweep that KSG itself runs, and a k-d tree), plus one FAISS L2 search as a yardstick.
2. TwoNN on n x 1024 (a 16-dim linear manifold in 1024 dims) against one exact FAISS flat search of
   the same rows and against scikit-dimension's TwoNN (``pip install scikit-dimension``).
3. k-NN I(X;T) (``knn``: Kozachenko-Leonenko on noise draws) with n / draws inputs x draws noise draws
   = n points of 1024 dims against one FAISS search of those n points.

Times are the best of ``--repeats`` calls, ratios in one run on identical data. Numba kernels are
compiled (cached) before timing. NPEET and scikit-dimension are benchmark-only dependencies.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, print_table


def faiss_search(points: np.ndarray, k: int) -> np.ndarray:
    import faiss

    data = np.ascontiguousarray(points, dtype=np.float32)
    index = faiss.IndexFlatL2(data.shape[1])
    index.add(data)
    return index.search(data, k + 1)[0]


def ksg_section(n: int, repeats: int) -> list[list[str]]:
    import ibpipe
    from ibpipe.estimators.neighbours import chebyshev_sweep, kneighbors

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 10))
    y = 0.3 * x + math.sqrt(1 - 0.09) * rng.normal(size=(n, 10))
    joint = np.hstack([x, y])
    truth = -10 / 2 * math.log2(1 - 0.09)
    ibpipe.mutual_information(x[:200], y[:200], "ksg")  # compile the kernels
    chebyshev_sweep(joint[:200], 3)
    value = float(ibpipe.mutual_information(x, y, "ksg"))
    rows = []
    ours = best_time(lambda: ibpipe.mutual_information(x, y, "ksg"), repeats)
    rows.append(["ibpipe ksg", f"{ours:.2f}", "1.00", f"{value:.10f}"])
    sweep = best_time(lambda: chebyshev_sweep(joint, 3), repeats)
    rows.append(["joint k-NN query alone (sweep)", f"{sweep:.2f}", f"{ours / sweep:.2f}", ""])
    tree = best_time(lambda: kneighbors(joint, 3, metric="chebyshev", backend="kdtree"), 1)
    rows.append(["joint k-NN query alone (k-d tree)", f"{tree:.2f}", f"{ours / tree:.2f}", ""])
    try:
        faiss_time = best_time(lambda: faiss_search(joint, 3), repeats)
        rows.append(["one FAISS L2 flat search (joint)", f"{faiss_time:.2f}", f"{ours / faiss_time:.2f}", ""])
    except ImportError:
        rows.append(["one FAISS L2 flat search (joint)", "faiss-cpu not installed", "", ""])
    try:
        import npeet_plus
    except ImportError:
        rows.append(["NPEET mi", "npeet-plus not installed", "", ""])
    else:

        def npeet():
            np.random.seed(0)
            return npeet_plus.mi(x, y, k=3)

        reference = npeet()
        npeet_time = best_time(npeet, 1)
        rows.append(["NPEET mi", f"{npeet_time:.2f}", f"{ours / npeet_time:.3f}", f"{reference:.10f}"])
        rows.append(["|ibpipe - NPEET| (bits)", "", "", f"{abs(value - reference):.2e}"])
    rows.append(["truth (bits)", "", "", f"{truth:.10f}"])
    return rows


def manifold(n: int, dims: int, intrinsic: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, intrinsic)) @ rng.normal(size=(intrinsic, dims))


def twonn_section(n: int, repeats: int) -> list[list[str]]:
    from ibpipe.dimension.twonn import twonn_fit

    points = manifold(n, 1024, 16, seed=1)
    rows = []
    ours = best_time(lambda: twonn_fit(points, discard_fraction=0.1), repeats)
    dimension = twonn_fit(points, discard_fraction=0.1).dimension
    rows.append(["ibpipe TwoNN", f"{ours:.2f}", "1.00", f"{dimension:.10f}"])
    search = best_time(lambda: faiss_search(points, 2), repeats)
    rows.append(["one FAISS flat search (k = 2)", f"{search:.2f}", f"{ours / search:.2f}", ""])
    try:
        import skdim
    except ImportError:
        rows.append(["scikit-dimension TwoNN", "not installed", "", ""])
    else:
        estimator = skdim.id.TwoNN(discard_fraction=0.1)
        theirs = best_time(lambda: estimator.fit(points), 1)
        rows.append(["scikit-dimension TwoNN", f"{theirs:.2f}", f"{ours / theirs:.3f}", f"{estimator.dimension_:.10f}"])
        rows.append(["|ibpipe - scikit-dimension|", "", "", f"{abs(dimension - estimator.dimension_):.2e}"])
    return rows


def knn_section(n: int, draws: int, repeats: int) -> list[list[str]]:
    from ibpipe.estimators.knn import knn_information

    inputs = n // draws
    activations = manifold(inputs, 1024, 16, seed=2)
    labels = np.arange(inputs) % 10
    noise = 1e-2

    def run():
        return knn_information(activations, labels, noise, 3, 0, noise_draws=draws)

    ours = best_time(run, repeats)
    values = run()
    noisy = np.repeat(activations, draws, axis=0) + np.random.default_rng(0).normal(
        scale=math.sqrt(noise), size=(inputs * draws, 1024)
    )
    search = best_time(lambda: faiss_search(noisy, 3), repeats)
    return [
        [f"ibpipe knn ({inputs} inputs x {draws} draws)", f"{ours:.2f}", "1.00", f"I_XT {values['I_XT']:.4f}"],
        [f"one FAISS flat search ({inputs * draws} points, k = 3)", f"{search:.2f}", f"{ours / search:.2f}", ""],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n", type=int, default=None, help="rows (default 20000, 2000 with --quick)")
    parser.add_argument("--only", choices=["ksg", "twonn", "knn"], default=None)
    arguments = parser.parse_args()
    n = arguments.n or (2000 if arguments.quick else 20000)
    header = ["what", "seconds", "ibpipe / this", "value"]
    if arguments.only in (None, "ksg"):
        print(f"\nKSG, n = {n}, (10, 10) dims, rho 0.3, k 3")
        print_table(header, ksg_section(n, arguments.repeats))
    if arguments.only in (None, "twonn"):
        print(f"\nTwoNN, {n} x 1024 (16-dim linear manifold)")
        print_table(header, twonn_section(n, arguments.repeats))
    if arguments.only in (None, "knn"):
        print(f"\nk-NN I(X;T), {n} noisy points x 1024")
        print_table(header, knn_section(n, 4, arguments.repeats))


if __name__ == "__main__":
    main()
