"""k-NN estimators against a reference implementation and against the exact k-NN query alone.

    python benchmarks/bench_knn.py            # the sizes of the issue (minutes on 2 cores)
    python benchmarks/bench_knn.py --quick    # a smoke run

1. KSG (k = 3) on n samples of a (10-dim, 10-dim) Gaussian pair, rho = 0.3 per coordinate pair:
   ``ibpipe.mutual_information(x, y, "ksg")`` against NPEET's ``mi`` (``pip install npeet-plus``; its
   1e-10 jitter seeded) and against the exact max-norm k-NN query of the joint space alone (the
   compiled sweep that KSG itself runs, and a k-d tree), plus one FAISS L2 search as a yardstick.
2. TwoNN on n x 1024 (a 16-dim linear manifold in 1024 dims) against one exact FAISS flat search of
   the same rows and against scikit-dimension's TwoNN (``pip install scikit-dimension``), whose linear
   fit ``twonn_fit(..., convention="scikit-dimension")`` reproduces.
3. k-NN I(X;T) (``knn``: Kozachenko-Leonenko on noise draws) with n / draws inputs x draws noise draws
   = n points of 1024 dims against one FAISS search of those n points: the I(X;T) part (H(T + Z) and
   I(X;T), the Euclidean searches) and the whole estimator (plus Ross's max-norm I(T;Y)).
4. ``--only large``: the ``knn`` estimator as the pipeline runs it on one (epoch, layer) of a 60000 x 3136
   layer (synthetic ReLU activations of a rank-32 latent, 10 classes, float32 as stored) with
   ``estimate.max_pairwise_samples`` = ``--rows`` (the issue: 20000), default noise draws (8) and k (3):
   time and the process's peak resident memory. Run it in a process of its own.

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
    from ibpipe.estimators.neighbours import kneighbors
    from ibpipe.estimators.sweeps import chebyshev_sweep

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
    twonn_fit(points[:300])  # compile the exact check
    rows = []
    ours = best_time(lambda: twonn_fit(points, 0.1, convention="scikit-dimension"), repeats)
    dimension = twonn_fit(points, 0.1, convention="scikit-dimension").dimension
    rows.append(["ibpipe TwoNN (scikit-dimension's fit)", f"{ours:.2f}", "1.00", f"{dimension:.12f}"])
    default = twonn_fit(points, 0.1).dimension
    rows.append(["ibpipe TwoNN (default fit, F = (i - 1) / N)", "", "", f"{default:.12f}"])
    search = best_time(lambda: faiss_search(points, 2), repeats)
    rows.append(["one FAISS flat search (k = 2)", f"{search:.2f}", f"{ours / search:.2f}", ""])
    try:
        import skdim
    except ImportError:
        rows.append(["scikit-dimension TwoNN", "not installed", "", ""])
    else:
        estimator = skdim.id.TwoNN(discard_fraction=0.1)
        theirs = best_time(lambda: estimator.fit(points), 1)
        rows.append(["scikit-dimension TwoNN", f"{theirs:.2f}", f"{ours / theirs:.3f}", f"{estimator.dimension_:.12f}"])
        rows.append(["|ibpipe - scikit-dimension| (same fit)", "", "", f"{abs(dimension - estimator.dimension_):.2e}"])
    return rows


def knn_section(n: int, draws: int, repeats: int) -> list[list[str]]:
    from ibpipe.estimators.knn import _euclidean_kth, _kth_distance_within_groups, knn_information

    inputs = n // draws
    activations = manifold(inputs, 1024, 16, seed=2)
    labels = np.arange(inputs) % 10
    noise = 1e-2

    def input_information():  # knn_information's I(X;T) part: the same noise, the pooled and per-input searches
        rng = np.random.default_rng(0)
        noisy = np.repeat(activations, draws, axis=0) + rng.normal(scale=math.sqrt(noise), size=(n, 1024))
        ids = np.repeat(np.arange(inputs), draws)
        pooled = _euclidean_kth(noisy, 3)
        own = _kth_distance_within_groups(noisy, ids, 3)
        return 1024 * np.mean(np.log(pooled / own))

    def run():
        return knn_information(activations, labels, noise, 3, 0, noise_draws=draws)

    values = run()  # loads the compiled kernels
    part = best_time(input_information, repeats)
    ours = best_time(run, repeats)
    noisy = np.repeat(activations, draws, axis=0) + np.random.default_rng(0).normal(
        scale=math.sqrt(noise), size=(inputs * draws, 1024)
    )
    search = best_time(lambda: faiss_search(noisy, 3), repeats)
    return [
        [f"ibpipe knn, I(X;T) part ({inputs} inputs x {draws} draws)", f"{part:.2f}", f"{part / search:.2f}", ""],
        ["ibpipe knn, whole (H, I(X;T), Ross's max-norm I(T;Y))", f"{ours:.2f}", f"{ours / search:.2f}", ""],
        [f"one FAISS flat search ({inputs * draws} points, k = 3)", f"{search:.2f}", "1.00", ""],
        ["values (bits)", "", "", f"I_XT {values['I_XT']:.4f}, I_TY {values['I_TY']:.4f}"],
    ]


def large_section(rows: int, width: int = 3136, layer_rows: int = 60000) -> list[list[str]]:
    """The pipeline's ``knn`` on one (epoch, layer): the seeded subsample of ``rows`` of the layer, then the
    estimator with the default settings, and one FAISS search of as many noisy points as a yardstick. Peak
    memory is the process's high-water mark (ru_maxrss), the layer (float32) built in blocks beforehand."""
    import resource
    import time

    from ibpipe.estimators.knn import knn_information
    from ibpipe.estimators.pairwise import subsample_rows
    from ibpipe.estimators.settings import EstimatorSettings

    settings = EstimatorSettings()
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, size=layer_rows)
    centres, weights = rng.normal(size=(10, 32)) / 3, rng.normal(size=(32, width)) / math.sqrt(32)
    layer = np.empty((layer_rows, width), dtype=np.float32)
    for start in range(0, layer_rows, 4096):  # ReLU of a rank-32 latent with a class-dependent mean
        part = slice(start, min(start + 4096, layer_rows))
        latent = rng.normal(size=(part.stop - part.start, 32)) + centres[labels[part]]
        layer[part] = np.maximum(latent @ weights, 0)
    kept = subsample_rows(layer_rows, rows, settings.seed)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    values = knn_information(
        layer[kept].astype(np.float64),
        labels[kept],
        settings.noise_variance,
        settings.n_neighbors,
        settings.seed,
        noise_draws=settings.noise_draws,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    draws = max(settings.noise_draws, settings.n_neighbors + 1)
    noisy = np.repeat(layer[kept], draws, axis=0)
    noisy += rng.normal(scale=math.sqrt(settings.noise_variance), size=noisy.shape).astype(np.float32)
    search = best_time(lambda: faiss_search(noisy, 3), 1)
    return [
        [f"knn on {rows} of {layer_rows} x {width} rows ({rows * draws} noisy points)", f"{seconds:.1f}", "1.00", ""],
        [f"one FAISS flat search ({rows * draws} points, k = 3)", f"{search:.1f}", f"{seconds / search:.2f}", ""],
        ["peak resident memory (GB): before knn, after", f"{before:.2f}", f"{peak:.2f}", ""],
        ["values (bits)", "", "", f"H_T {values['H_T']:.2f} I_XT {values['I_XT']:.3f} I_TY {values['I_TY']:.3f}"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n", type=int, default=None, help="rows (default 20000, 2000 with --quick)")
    parser.add_argument("--only", choices=["ksg", "twonn", "knn", "large"], default=None)
    parser.add_argument("--rows", type=int, default=20000, help="max_pairwise_samples of --only large")
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
    if arguments.only == "large":
        print(f"\nk-NN I(X;T) of a 60000 x 3136 layer, estimate.max_pairwise_samples = {arguments.rows}")
        print_table(header, large_section(arguments.rows))


if __name__ == "__main__":
    main()
