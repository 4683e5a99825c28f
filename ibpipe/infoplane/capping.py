"""The declared cost cap of the O(N^2) methods: which rows they see, what a run will cost, and a refusal.

The counting estimators (plug-in, Miller-Madow) are O(N d) and always see every row. The
pairwise methods (kde-*, knn, lga, the intrinsic dimensions) cost O(N^2) time, each its own
multiple (``PAIRWISE_COSTS``: N^2 d for both KDE bounds, N^2 d^2 for lga, the square of the noise
draws for knn, the window's square for every estimator); above ``estimate.max_pairwise_samples``
rows they run on a seeded subsample
(``ibpipe.estimators.pairwise.subsample_rows``: the same rows for every epoch, layer and
estimator of a run), recorded in the metrics attrs. Their memory is bounded separately:
blocks of pairwise distances take ``PAIRWISE_SHARE`` of ``estimate.memory_limit``.

``plan_pairwise`` estimates a run's time and peak memory per worker before any work;
``check_plan`` refuses a run that would not fit, naming the param to change.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.errors import ParamsError
from ibpipe.estimators.pairwise import subsample_rows
from ibpipe.estimators.registry import ESTIMATORS
from ibpipe.infoplane.measure import NONFINITE, slab_information

MB = 2**20
PAIRWISE_SHARE = 8  # pairwise blocks get memory_limit / PAIRWISE_SHARE
# Conservative sustained float64 rate of one core on the O(N^2 d) products (a 2020s x86 core
# reaches 20-50 GFLOP/s in BLAS; exps and sorting bring the effective rate down).
FLOPS_PER_SECOND = 5.0e9
# Bytes per activation value a worker holds while measuring: the float32 slab, a float64 copy
# for the estimators and a centred float64 copy inside the KDE.
BYTES_PER_VALUE = 4 + 8 + 8


def pairwise_estimators(params: Any) -> tuple[str, ...]:
    return tuple(name for name in params.estimators if ESTIMATORS[name].needs in ("activations", "pre_noise"))


def pairwise_rows(params: Any, n_rows: int) -> np.ndarray | None:
    """The rows the pairwise methods use (sorted), or None for all of them."""
    if not pairwise_estimators(params) and not params.dimensions:
        return None
    return subsample_rows(n_rows, params.max_pairwise_samples, params.seed)


def pairwise_budget_bytes(params: Any) -> int:
    return params.memory_limit * MB // PAIRWISE_SHARE


def _draws(params: Any) -> int:
    """Noisy points per row of knn (at least k + 1 draws)."""
    return max(params.noise_draws, params.n_neighbors + 1)


# Floating-point operations of each pairwise method on n rows of a d-unit layer (one epoch or window).
# One half Gram matrix (every pair once, as both KDE bounds share) is n^2 d; a full one 2 n^2 d.
PAIRWISE_COSTS: dict[str, Callable[[int, int, Any], float]] = {
    "kde": lambda n, d, p: n**2 * d,  # both bounds from one half Gram matrix
    "kde-mc": lambda n, d, p: 2.0 * p.noise_draws * n**2 * d,  # n x draws noisy points against n centres
    "knn": lambda n, d, p: 2.0 * (_draws(p) * n) ** 2 * d,  # neighbours among n x draws noisy points
    # local Gaussian fits: every row weighs every other row's moments (1, x, x x'): ~d^2 / 2 + 3d / 2 + 1 per
    # pair, twice (multiply and add); plus the k-th neighbour distances that set the bandwidths
    "lga": lambda n, d, p: n**2 * (d * d + 3 * d + 2) + 2.0 * n**2 * d,
    # batches of b rows: a Gram matrix (2 b^2 d) and three eigendecompositions (~10 b^3 each) per batch
    "renyi": lambda n, d, p: (
        (n / max(min(p.renyi_batch, n), 1)) * (2.0 * min(p.renyi_batch, n) ** 2 * d + 30.0 * min(p.renyi_batch, n) ** 3)
    ),
    "sample-propagation": lambda n, d, p: 2.0 * n**2 * d,  # mixture densities of n points over n centres
    "twonn": lambda n, d, p: 2.0 * n**2 * d,  # two nearest neighbours: a full Gram matrix at worst
    "corrdim": lambda n, d, p: 2.0 * min(p.dimension_pairs, n**2) * d,  # the sampled pairs' distances
}
DEFAULT_COST = PAIRWISE_COSTS["twonn"]  # an estimator not listed (e.g. a neural one): a full Gram matrix


def pairwise_flops(n_rows: int, width: int, params: Any) -> float:
    """Floating-point operations of the pairwise methods of ``params`` on one (epoch, layer) of ``width`` units
    measured on ``n_rows`` rows: the estimators on the window's ``window x n_rows`` pooled rows, the
    dimensions on one epoch's rows."""
    pooled = n_rows * params.window
    names = {"kde" if name in ("kde-upper", "kde-lower") else name for name in pairwise_estimators(params)}
    flops = sum(PAIRWISE_COSTS.get(name, DEFAULT_COST)(pooled, width, params) for name in names)
    return flops + sum(PAIRWISE_COSTS.get(name, DEFAULT_COST)(n_rows, width, params) for name in params.dimensions)


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


def plan_pairwise(n_rows: int, widths: Mapping[str, int], params: Any, epochs_per_task: int = 4) -> PairwisePlan:
    """Time and memory of the pairwise methods from the sizes alone (no data read).

    Work per (epoch, layer): ``pairwise_flops`` (each method its own cost, ``PAIRWISE_COSTS``) at
    ``FLOPS_PER_SECOND``. Memory: the task's slab (its epochs and the window's earlier ones) and the
    pairwise blocks' budget.
    """
    rows = pairwise_rows(params, n_rows)
    n_used = n_rows if rows is None else len(rows)
    names = pairwise_estimators(params)
    flops = sum(pairwise_flops(n_used, width, params) for width in widths.values())
    widest = max(widths.values(), default=0)
    wanted = bool(names or params.dimensions)
    slab = (epochs_per_task + params.window - 1) * n_used * widest * BYTES_PER_VALUE if wanted else 0
    return PairwisePlan(n_rows, n_used, widest, flops / FLOPS_PER_SECOND, slab + pairwise_budget_bytes(params))


def check_plan(plan: PairwisePlan, params: Any) -> None:
    """Raise ParamsError before any work when one worker would need more than ``estimate.memory_limit``."""
    if plan.peak_bytes <= params.memory_limit * MB:
        return
    affordable = _affordable_rows(plan, params)
    raise ParamsError(
        f"estimate: the pairwise methods on {plan.n_used} of {plan.n_rows} rows (widest layer {plan.widest} "
        f"units) need ~{plan.peak_bytes / MB:.0f} MB per worker and ~{plan.seconds_per_epoch:.0f} s per epoch, "
        f"more than estimate.memory_limit = {params.memory_limit} MB; set estimate.max_pairwise_samples to "
        f"{affordable} or less (now {params.max_pairwise_samples}), raise estimate.memory_limit, or drop the "
        "activation estimators and dimensions"
    )


def _affordable_rows(plan: PairwisePlan, params: Any) -> int:
    spare = params.memory_limit * MB - pairwise_budget_bytes(params)
    per_row = max(1, (plan.peak_bytes - pairwise_budget_bytes(params)) // max(plan.n_used, 1))
    return max(100, int(spare // per_row) // 100 * 100)


def cap_attrs(plan: PairwisePlan, params: Any) -> dict[str, str]:
    """The metrics attrs that record which rows the pairwise methods saw."""
    return {
        "pairwise_samples": json.dumps(
            {
                "n_rows": plan.n_rows,
                "n_used": plan.n_used,
                "capped": plan.capped,
                "seed": params.seed,
                "rows": "sorted numpy.random.default_rng(seed).choice(n_rows, n_used, replace=False)",
                "applies_to": [*pairwise_estimators(params), *params.dimensions],
            }
        )
    }


def split_slab_information(
    params: Any, labels: np.ndarray, x_ids: np.ndarray, codes=None, activations=None, rows=None, **slab
) -> xr.Dataset:
    """``slab_information`` with the counting estimators on every row and the pairwise methods on ``rows``.

    ``activations`` (and a noisy net's ``pre_noise_slab`` draws in ``slab``) hold only ``rows`` (all
    rows when ``rows`` is None). The estimators come back in ``params.estimators`` order.
    """
    if rows is None:
        return slab_information(params, labels, x_ids, codes, activations, **slab)
    pairwise = pairwise_estimators(params)
    counting = tuple(name for name in params.estimators if name not in pairwise)
    draws = slab.pop("pre_noise_slab", None)
    parts = {}
    if counting:
        parts["counting"] = slab_information(
            params, labels, x_ids, codes, None, estimators=counting, dimensions=(), **slab
        )
    if pairwise or params.dimensions:
        # With no pairwise estimator only the dimensions are wanted: run a counting one on the subsample's codes.
        parts["pairwise"] = slab_information(
            params,
            labels[rows],
            x_ids[rows],
            None if pairwise else codes[:, rows],
            activations,
            estimators=pairwise or counting[:1],
            pre_noise_slab=draws,
            **slab,
        )
    return _joined(params, parts, bool(pairwise))


def _joined(params: Any, parts: dict[str, xr.Dataset], pairwise: bool) -> xr.Dataset:
    """The counting and pairwise parts as one Dataset, estimators in ``params.estimators`` order: the
    states of the codes of every row, the dimensions of the subsample, flagged where either was."""
    counting, spread = parts.get("counting"), parts.get("pairwise")
    sources = [part for part in (counting, spread if pairwise else None) if part is not None]
    per_estimator = [name for name, variable in sources[0].data_vars.items() if "estimator" in variable.dims]
    joined = xr.concat([part[per_estimator] for part in sources], "estimator")
    joined = joined.sel(estimator=list(params.estimators))
    measured = spread if spread is not None else counting
    others = measured[[name for name in measured.data_vars if name not in (*per_estimator, "n_states", NONFINITE)]]
    states = (counting if counting is not None else spread)["n_states"]
    flags = np.logical_or.reduce([part[NONFINITE].values for part in parts.values()])
    return joined.assign(n_states=states, **others.data_vars, **{NONFINITE: ("epoch", flags)})
