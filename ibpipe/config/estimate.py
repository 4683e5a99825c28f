"""The ``estimate`` section: which estimators run, with what settings, on which scheduler.

The estimators' own settings (noise_variance, n_neighbors, noise_draws, renyi_alpha,
renyi_batch, seed) are declared once, in ``ibpipe.estimators.settings``; this section adds
what the stage decides: which estimators, bootstrap intervals, windows, scheduler and memory.
"""

from __future__ import annotations

from typing import ClassVar

from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
from ibpipe.estimators.bootstrap import METHODS as BOOTSTRAP_METHODS
from ibpipe.estimators.pairwise import DEVICES
from ibpipe.estimators.registry import COUNTING_ESTIMATORS, ESTIMATORS
from ibpipe.estimators.settings import EstimatorSettings
from ibpipe.schema import Scheduler, Section, off_or, one_of, setting

# Estimators that read a pooled window ("as if random") correctly: each takes ``x_ids``, so the w rows of
# one input (its activations in the w epochs) are draws of T given that input, H(T|X) = sum_x p(x)
# H(T|X=x) over them, and H(T) is taken over all w x N rows. Refused, and why:
WINDOW_REFUSED = {
    "renyi": "its mini-batches split the w rows of one input across batches, so no batch sees T given X whole",
    "sample-propagation": "its draws are the noisy passes of one epoch's network, not the window's epochs",
}
WINDOW_ESTIMATORS = (*COUNTING_ESTIMATORS, "kde-upper", "kde-lower", "kde-mc", "knn", "lga")


class EstimateParams(Section, EstimatorSettings):
    section: ClassVar[str] = "estimate"

    estimators: list[one_of(ESTIMATORS)] = setting(
        ["plugin", "miller-madow", "kde-upper", "kde-lower"], "estimators to run", unique=True, min_length=1
    )
    bootstrap_resamples: off_or(2, 100_000) = setting(0, "bootstrap replicas for intervals (0 = off)")
    bootstrap_level: float = setting(0.9, "coverage of the bootstrap interval", gt=0.0, lt=1.0)
    bootstrap_method: one_of(BOOTSTRAP_METHODS) = setting(
        "basic", "basic (bias-corrected reverse percentile) or percentile interval"
    )
    window: int = setting(
        1,
        "pool this many consecutive measured epochs into one sample ('as if random'; 1 = off): an input's w rows"
        " are draws of T given X",
        unit="epochs",
        ge=1,
        le=1000,
    )
    scheduler: Scheduler = setting("local", "Dask scheduler: local process cluster, threads, synchronous or an address")
    workers: int = setting(2, "Dask workers of the local cluster", ge=1, le=256)
    dimensions: list[one_of(DIMENSION_ESTIMATORS)] = setting(
        ["corrdim", "twonn"], "intrinsic dimension of the raw activations per (epoch, layer) ([] = off)", unique=True
    )
    dimension_pairs: int = setting(100_000, "correlation dimension: pairs used at most per (epoch, layer)", ge=100)
    max_pairwise_samples: off_or(100) = setting(
        5000,
        "O(N^2) methods (kde-*, knn, dimensions) use a seeded subsample of this many rows when N is larger, "
        "the same rows for every epoch and estimator (0 = all rows)",
        unit="rows",
    )
    memory_limit: int = setting(
        2000,
        "MB one estimate worker may use; pairwise blocks get an eighth of it, slabs the rest",
        unit="MB",
        ge=256,
    )
    device: one_of(DEVICES) = setting("auto", "where the pairwise distance kernels run (auto: CUDA when present)")

    def errors(self) -> list[str]:
        refused = [name for name in self.estimators if name not in WINDOW_ESTIMATORS]
        if self.window > 1 and refused:
            reasons = "; ".join(
                f"{name}: {WINDOW_REFUSED.get(name, 'not known to read repeated inputs')}" for name in refused
            )
            return [
                f"estimate.window = {self.window} with estimate.estimators {refused}: windows pool epochs, which "
                f"only {', '.join(WINDOW_ESTIMATORS)} read correctly ({reasons}); set window: 1 or drop them"
            ]
        return []
