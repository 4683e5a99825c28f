"""The ``estimate`` section: which estimators run, with what settings, on which scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key, list_of, number, off_or, one_of, scheduler
from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
from ibpipe.estimators.bootstrap import METHODS as BOOTSTRAP_METHODS
from ibpipe.estimators.pairwise import DEVICES
from ibpipe.estimators.registry import COUNTING_ESTIMATORS, ESTIMATORS


@dataclass(frozen=True)
class EstimateParams(Section):
    section: ClassVar[str] = "estimate"

    estimators: list[str] = key(
        ["plugin", "miller-madow", "kde-upper", "kde-lower"],
        list_of(one_of(*ESTIMATORS), unique=True),
        "estimators to run",
    )
    noise_variance: float = key(1.0e-3, number(0.0, open_low=True), "s2 of the Gaussian noise of kde-* and knn")
    n_neighbors: int = key(3, integer(1, 1000), "k of the knn estimator")
    noise_draws: int = key(8, integer(1, 1000), "noise draws per row of kde-mc and knn (knn uses at least k + 1)")
    renyi_alpha: float = key(1.01, number(0.0, open_low=True), "alpha of the matrix-based Renyi entropy (renyi)")
    renyi_batch: int = key(256, integer(2, 100_000), "rows per mini-batch of renyi (every quantity <= log2 of it)")
    bootstrap_resamples: int = key(0, off_or(integer(2, 100_000)), "bootstrap replicas for intervals (0 = off)")
    bootstrap_level: float = key(
        0.9, number(0.0, 1.0, open_low=True, open_high=True), "coverage of the bootstrap interval"
    )
    bootstrap_method: str = key(
        "basic", one_of(*BOOTSTRAP_METHODS), "basic (bias-corrected reverse percentile) or percentile interval"
    )
    seed: int = key(0, integer(0), "seed of bootstrap resampling and knn noise")
    window: int = key(
        1, integer(1, 1000), "pool this many consecutive measured epochs into one sample ('as if random'; 1 = off)"
    )
    scheduler: str = key(
        "local", scheduler, "Dask scheduler: local process cluster, threads, synchronous or an address"
    )
    workers: int = key(2, integer(1, 256), "Dask workers of the local cluster")
    dimensions: list[str] = key(
        ["corrdim", "twonn"],
        list_of(one_of(*DIMENSION_ESTIMATORS), min_length=0, unique=True),
        "intrinsic dimension of the raw activations per (epoch, layer) ([] = off)",
    )
    dimension_pairs: int = key(100_000, integer(100), "correlation dimension: pairs used at most per (epoch, layer)")
    max_pairwise_samples: int = key(
        5000,
        off_or(integer(100)),
        "O(N^2) methods (kde-*, knn, dimensions) use a seeded subsample of this many rows when N is larger, "
        "the same rows for every epoch and estimator (0 = all rows)",
    )
    memory_limit: int = key(
        2000, integer(256), "MB one estimate worker may use; pairwise blocks get an eighth of it, slabs the rest"
    )
    device: str = key("auto", one_of(*DEVICES), "where the pairwise distance kernels run (auto: CUDA when present)")

    def errors(self) -> list[str]:
        pooled_elsewhere = [name for name in self.estimators if name not in COUNTING_ESTIMATORS]
        if self.window > 1 and pooled_elsewhere:
            return [
                f"estimate.window = {self.window} with estimate.estimators {pooled_elsewhere}: windows pool epochs, "
                f"which only the counting estimators ({', '.join(COUNTING_ESTIMATORS)}) read correctly; "
                "set window: 1 or drop them"
            ]
        return []
