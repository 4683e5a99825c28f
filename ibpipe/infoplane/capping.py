"""The declared cost cap of the O(N^2) methods: which rows they see, what a run will cost, and a refusal.

The counting estimators (plug-in, Miller-Madow) are O(N d) and always see every row. The
pairwise methods (kde-*, knn, the intrinsic dimensions) cost O(N^2 d) time; above
``estimate.max_pairwise_samples`` rows they run on a seeded subsample
(``ibpipe.estimators.pairwise.subsample_rows``: the same rows for every epoch, layer and
estimator of a run), recorded in the metrics attrs. Their memory is bounded separately:
blocks of pairwise distances take ``PAIRWISE_SHARE`` of ``estimate.memory_limit``.

``plan_pairwise`` estimates a run's time and peak memory per worker before any work;
``check_plan`` refuses a run that would not fit, naming the param to change.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import numpy as np

from ibpipe.errors import ParamsError
from ibpipe.estimators.pairwise import subsample_rows
from ibpipe.estimators.registry import ESTIMATORS
from ibpipe.infoplane.measure import EstimateOptions, SlabMeasures, slab_information

MB = 2**20
PAIRWISE_SHARE = 8  # pairwise blocks get memory_limit / PAIRWISE_SHARE
# Conservative sustained float64 rate of one core on the O(N^2 d) products (a 2020s x86 core
# reaches 20-50 GFLOP/s in BLAS; exps and sorting bring the effective rate down).
FLOPS_PER_SECOND = 5.0e9
# Bytes per activation value a worker holds while measuring: the float32 slab, a float64 copy
# for the estimators and a centred float64 copy inside the KDE.
BYTES_PER_VALUE = 4 + 8 + 8


def pairwise_estimators(options: EstimateOptions) -> tuple[str, ...]:
    return tuple(name for name in options.estimators if ESTIMATORS[name].needs in ("activations", "pre_noise"))


def pairwise_rows(options: EstimateOptions, n_rows: int) -> np.ndarray | None:
    """The rows the pairwise methods use (sorted), or None for all of them."""
    if not pairwise_estimators(options) and not options.dimensions:
        return None
    return subsample_rows(n_rows, options.max_pairwise_samples, options.seed)


def pairwise_budget_bytes(options: EstimateOptions) -> int:
    return options.memory_limit * MB // PAIRWISE_SHARE


@dataclasses.dataclass(frozen=True)
class PairwisePlan:
    """What the pairwise part of one estimate run will cost, per epoch and per worker."""

    n_rows: int
    n_used: int  # rows the pairwise methods see (n_rows when not capped)
    widest: int  # the widest layer, units
    seconds_per_epoch: float  # all layers, one core
    peak_bytes: int  # one task of the widest layer

    @property
    def capped(self) -> bool:
        return self.n_used < self.n_rows


def plan_pairwise(
    n_rows: int, widths: Mapping[str, int], options: EstimateOptions, epochs_per_task: int = 4
) -> PairwisePlan:
    """Time and memory of the pairwise methods from the sizes alone (no data read).

    Work per (epoch, layer) of width d on n rows: both KDE bounds ~ n^2 d (one half Gram
    matrix), k-NN and TwoNN ~ 2 n^2 d (a full Gram matrix), the correlation dimension
    ~ 2 pairs d.
    """
    rows = pairwise_rows(options, n_rows)
    n_used = n_rows if rows is None else len(rows)
    names = pairwise_estimators(options)
    gram_passes = (1.0 if any(name.startswith("kde") for name in names) else 0.0) + 2.0 * (
        ("knn" in names) + ("twonn" in options.dimensions)
    )
    flops = sum(
        gram_passes * n_used**2 * width + 2.0 * min(options.dimension_pairs, n_used**2) * width
        if "corrdim" in options.dimensions
        else gram_passes * n_used**2 * width
        for width in widths.values()
    )
    widest = max(widths.values(), default=0)
    wanted = bool(names or options.dimensions)
    slab = epochs_per_task * n_used * widest * BYTES_PER_VALUE if wanted else 0
    return PairwisePlan(n_rows, n_used, widest, flops / FLOPS_PER_SECOND, slab + pairwise_budget_bytes(options))


def check_plan(plan: PairwisePlan, options: EstimateOptions) -> None:
    """Raise ParamsError before any work when one worker would need more than ``estimate.memory_limit``."""
    if plan.peak_bytes <= options.memory_limit * MB:
        return
    affordable = _affordable_rows(plan, options)
    raise ParamsError(
        f"estimate: the pairwise methods on {plan.n_used} of {plan.n_rows} rows (widest layer {plan.widest} "
        f"units) need ~{plan.peak_bytes / MB:.0f} MB per worker and ~{plan.seconds_per_epoch:.0f} s per epoch, "
        f"more than estimate.memory_limit = {options.memory_limit} MB; set estimate.max_pairwise_samples to "
        f"{affordable} or less (now {options.max_pairwise_samples}), raise estimate.memory_limit, or drop the "
        "activation estimators and dimensions"
    )


def _affordable_rows(plan: PairwisePlan, options: EstimateOptions) -> int:
    spare = options.memory_limit * MB - pairwise_budget_bytes(options)
    per_row = max(1, (plan.peak_bytes - pairwise_budget_bytes(options)) // max(plan.n_used, 1))
    return max(100, int(spare // per_row) // 100 * 100)


def cap_attrs(plan: PairwisePlan, options: EstimateOptions) -> dict[str, str]:
    """The metrics attrs that record which rows the pairwise methods saw."""
    return {
        "pairwise_samples": json.dumps(
            {
                "n_rows": plan.n_rows,
                "n_used": plan.n_used,
                "capped": plan.capped,
                "seed": options.seed,
                "rows": "sorted numpy.random.default_rng(seed).choice(n_rows, n_used, replace=False)",
                "applies_to": [*pairwise_estimators(options), *options.dimensions],
            }
        )
    }


def split_slab_information(
    options: EstimateOptions,
    labels: np.ndarray,
    x_ids: np.ndarray,
    codes=None,
    activations=None,
    rows: np.ndarray | None = None,
    lead: int = 0,
    nonfinite: np.ndarray | None = None,
    pre_noise: np.ndarray | None = None,
) -> SlabMeasures:
    """``slab_information`` with the counting estimators on every row and the pairwise methods on ``rows``.

    ``activations`` (and a noisy net's ``pre_noise`` draws) hold only ``rows`` (all rows when
    ``rows`` is None). The results are joined back in ``options.estimators`` order.
    """
    if rows is None:
        return slab_information(
            options, labels, x_ids, codes, activations, lead, nonfinite=nonfinite, pre_noise_slab=pre_noise
        )
    pairwise = pairwise_estimators(options)
    counting = tuple(name for name in options.estimators if name not in pairwise)
    parts = {}
    if counting:
        parts["counting"] = slab_information(
            dataclasses.replace(options, estimators=counting, dimensions=()),
            labels,
            x_ids,
            codes,
            None,
            lead,
            nonfinite=nonfinite,
        )
    if pairwise or options.dimensions:
        chosen = dataclasses.replace(options, estimators=pairwise or counting[:1], max_pairwise_samples=0)
        # With no pairwise estimator only the dimensions are wanted: run a counting one on the subsample's codes.
        parts["pairwise"] = slab_information(
            chosen,
            labels[rows],
            x_ids[rows],
            None if pairwise else codes[:, rows],
            activations,
            lead,
            nonfinite=nonfinite,
            pre_noise_slab=pre_noise,
        )
    return _joined(options, parts, counting, pairwise)


def _joined(options: EstimateOptions, parts: dict, counting: tuple, pairwise: tuple) -> SlabMeasures:
    """The counting and pairwise parts' measures as one, estimators in ``options.estimators`` order."""
    first = next(iter(parts.values()))
    n_epochs = len(first.points)
    points = np.empty((n_epochs, len(options.estimators), first.points.shape[2]))
    intervals = None if first.intervals is None else np.empty((*points.shape, 2))
    capped = np.zeros((n_epochs, len(options.estimators)), dtype=np.int64)
    for part, names in (("counting", counting), ("pairwise", pairwise)):
        for column, name in enumerate(names):
            target = options.estimators.index(name)
            points[:, target] = parts[part].points[:, column]
            capped[:, target] = parts[part].capped[:, column]
            if intervals is not None:
                intervals[:, target] = parts[part].intervals[:, column]
    states = parts["counting"].states if "counting" in parts else first.states
    measured = parts.get("pairwise", first)
    nonfinite = np.logical_or.reduce([part.nonfinite for part in parts.values()])
    return SlabMeasures(points, intervals, states, measured.dimensions, capped, nonfinite, measured.ties)
