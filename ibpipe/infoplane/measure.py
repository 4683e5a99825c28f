"""Information of one layer's epochs: the pure per-(epoch, layer) measurement, as labelled Datasets.

``params`` is the validated estimate section (its estimator settings, estimators, bootstrap,
window and dimensions). Nothing here touches files: the store readers live in
``ibpipe.infoplane.tasks``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
from ibpipe.estimators.bootstrap import bootstrap_interval
from ibpipe.estimators.plugin import state_ids
from ibpipe.estimators.registry import QUANTITIES, estimate_layer, unmeasured

BOUNDS = ("lower", "upper")
NONFINITE = "nonfinite"  # (epoch,) True where the activations held NaN or inf; read for warnings, then dropped
TIES_SUFFIX = "_ties"  # <dimension variable>_ties: points the dimension estimator discarded; dropped likewise


def run_estimators(
    params: Any, estimators: Sequence[str], labels, codes=None, activations=None, x_ids=None, pre_noise=None, **run
) -> dict[str, dict[str, float]]:
    """``{estimator: {quantity: bits, capped}}``; sample propagation is NaN for a layer without pre-noise
    draws (the output layer). ``run``: ``noise_std`` of a noisy network (``estimate_layer``)."""
    without_draws = "sample-propagation" in estimators and pre_noise is None
    wanted = tuple(name for name in estimators if not (without_draws and name == "sample-propagation"))
    data = {"codes": codes, "activations": activations, "x_ids": x_ids, "pre_noise": pre_noise}
    results = estimate_layer(wanted, labels, settings=params, **data, **run) if wanted else {}
    if without_draws:
        results["sample-propagation"] = unmeasured()
    return {name: results[name] for name in estimators}


def activation_dimensions(
    activations: np.ndarray, params: Any, dimensions: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Intrinsic dimension of one epoch's raw activations by each of ``dimensions`` (NaN where undefined,
    e.g. a layer with fewer than 3 distinct rows, or non-finite values), and the points each discarded as ties."""
    values, ties = [], []
    for name in dimensions:
        try:
            if not np.isfinite(activations).all():
                raise ValueError("non-finite activations")
            value = DIMENSION_ESTIMATORS[name].estimate(activations, params.dimension_pairs, params.seed)
        except ValueError:
            value = (np.nan, 0)
        values.append(value[0])
        ties.append(value[1])
    return np.asarray(values, dtype=np.float64), np.asarray(ties, dtype=np.float64)


def distinct_states(codes: np.ndarray) -> int:
    """How many different rows ``codes`` holds (N when every sample is its own state: saturation).

    The estimate stage's codes are one column of dense state ids (``stored_state_ids``): those are counted
    by a bincount, ~20x faster than hashing the rows."""
    codes = np.asarray(codes)
    if codes.ndim == 2 and codes.shape[1] == 1 and codes.dtype.kind in "iu" and len(codes):
        ids = codes[:, 0]
        if ids.min() >= 0 and ids.max() < max(32 * len(ids), 1 << 16):
            return int(np.count_nonzero(np.bincount(ids)))
    return int(np.unique(state_ids(codes)[0]).size)


def _as_row(values: Mapping[str, Mapping[str, float]], estimators: Sequence[str]) -> np.ndarray:
    return np.array([[values[name][q] for q in QUANTITIES] for name in estimators])


def epoch_information(
    params: Any,
    labels: np.ndarray,
    x_ids: np.ndarray,
    codes=None,
    activations=None,
    pre_noise=None,
    *,
    estimators: Sequence[str] | None = None,
    noise_std: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Point estimates (n_estimators, n_quantities), with bootstrap on intervals (..., 2) (else None), and
    how many informations each estimator had clipped to a ceiling (n_estimators,).

    ``estimators``: default ``params.estimators``; ``noise_std``: a noisy network's noise."""
    estimators, run = tuple(estimators or params.estimators), {"noise_std": noise_std}
    values = run_estimators(params, estimators, labels, codes, activations, x_ids, pre_noise, **run)
    point = _as_row(values, estimators)
    capped = np.array([values[name]["capped"] for name in estimators], dtype=np.int64)
    if params.bootstrap_resamples == 0:
        return point, None, capped

    def pick(values, rows):
        return None if values is None else values[rows]

    intervals = np.empty((*point.shape, 2))
    for column, name in enumerate(estimators):

        def resampled(rows, name=name):
            picked = (pick(codes, rows), pick(activations, rows), x_ids[rows], pick(pre_noise, rows))
            return run_estimators(params, (name,), labels[rows], *picked, **run)[name]

        bounds = bootstrap_interval(
            resampled,
            len(labels),
            params.bootstrap_resamples,
            params.bootstrap_level,
            params.seed,
            method=params.bootstrap_method,
            point=values[name],
        )
        intervals[column] = [bounds[q] for q in QUANTITIES]
    return point, intervals, capped


def slab_information(
    params: Any,
    labels: np.ndarray,
    x_ids: np.ndarray,
    codes_slab=None,
    activations_slab=None,
    *,
    lead: int = 0,
    nonfinite: np.ndarray | None = None,
    pre_noise_slab: np.ndarray | None = None,
    estimators: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    noise_std: float = 0.0,
) -> xr.Dataset:
    """Every epoch of an (epoch, sample, unit) slab but the first ``lead``, as a Dataset over (epoch, estimator).

    Variables: H_T, I_XT, I_TY in bits (``*_ci`` over ``bound`` with bootstrap), ``capped``
    (informations clipped to a ceiling), ``n_states`` (distinct code rows; NaN without codes), the
    intrinsic dimensions of each epoch's own activations, and the ``NONFINITE`` and ``TIES_SUFFIX``
    flags. The ``epoch`` coordinate is the slab position (the caller labels it).

    With ``params.window = w > 1`` the epoch at position p is measured on the w epochs
    p - w + 1 .. p pooled into one sample of w x N rows (inputs and labels repeated), so
    T given X has a real distribution ("as if random"); the slab then starts ``lead``
    epochs early to supply them, and positions without w epochs before them are NaN.

    ``nonfinite`` (slab epoch,) counts the NaN or inf activations behind the codes of each epoch
    (the reduce stage's count); an epoch with any, or with non-finite ``activations_slab``, makes
    every measure of the positions whose window holds it NaN, flagged ``NONFINITE``.
    ``pre_noise_slab`` (epoch, sample, draw, unit): a noisy network's noiseless outputs of repeated
    noisy passes, for ``sample-propagation`` (window 1 only). ``estimators`` and ``dimensions``: those
    of ``params`` unless given; ``noise_std``: a noisy network's noise.
    """
    estimators = tuple(estimators or params.estimators)
    dimensions = tuple(params.dimensions if dimensions is None else dimensions)
    run = {"estimators": estimators, "noise_std": noise_std}
    slab = codes_slab if codes_slab is not None else activations_slab
    positions = range(lead, len(slab))
    bad = _nonfinite_epochs(len(slab), activations_slab, nonfinite)
    slabs = {"codes": codes_slab, "activations": activations_slab, "pre_noise": pre_noise_slab}
    cells = [_window_information(params, labels, x_ids, slabs, position, bad, run) for position in positions]
    measured = [activation_dimensions(activations_slab[p], params, dimensions) for p in positions] if dimensions else []
    return _slab_dataset(cells, measured, estimators, dimensions, list(positions))


def _nonfinite_epochs(n_epochs: int, activations_slab, nonfinite) -> np.ndarray:
    bad = np.zeros(n_epochs, dtype=bool) if nonfinite is None else np.asarray(nonfinite) > 0
    if activations_slab is not None:
        bad |= ~np.isfinite(np.asarray(activations_slab).reshape(n_epochs, -1)).all(axis=1)
    return bad


def _window_information(params, labels, x_ids, slabs: dict, position: int, bad, run: dict) -> tuple:
    """(point, intervals, n_states, capped, flagged) of the window of epochs ending at ``position``;
    ``run``: the ``estimators`` and ``noise_std`` for ``epoch_information``."""
    estimators, first = run["estimators"], position - params.window + 1
    flagged = bool(bad[max(first, 0) : position + 1].any())
    if first < 0 or flagged:
        point = np.full((len(estimators), len(QUANTITIES)), np.nan)
        intervals = None if params.bootstrap_resamples == 0 else np.full((*point.shape, 2), np.nan)
        return point, intervals, np.nan, np.zeros(len(estimators), dtype=np.int64), flagged

    def pool(values):
        return None if values is None else np.concatenate(list(values[first : position + 1]))

    codes, draws = pool(slabs["codes"]), None if slabs["pre_noise"] is None else slabs["pre_noise"][position]
    pooled = (np.tile(labels, params.window), np.tile(x_ids, params.window))
    point, intervals, capped = epoch_information(params, *pooled, codes, pool(slabs["activations"]), draws, **run)
    return point, intervals, np.nan if codes is None else distinct_states(codes), capped, flagged


def _slab_dataset(cells: list, measured: list, estimators, dimensions, positions: list[int]) -> xr.Dataset:
    """The per-epoch measures of one slab labelled by (epoch, estimator[, bound])."""
    points, intervals, states, capped, flags = (list(values) for values in zip(*cells))
    points, dims = np.stack(points), ("epoch", "estimator")
    data_vars = {}
    for position, quantity in enumerate(QUANTITIES):
        data_vars[quantity] = (dims, points[..., position])
        if intervals[0] is not None:
            data_vars[f"{quantity}_ci"] = ((*dims, "bound"), np.stack(intervals)[..., position, :])
    data_vars["capped"] = (dims, np.stack(capped))
    data_vars["n_states"] = ("epoch", np.asarray(states, dtype=np.float64))
    for column, name in enumerate(dimensions):
        variable = DIMENSION_ESTIMATORS[name].variable
        data_vars[variable] = ("epoch", np.asarray([values[column] for values, _ in measured]))
        data_vars[variable + TIES_SUFFIX] = ("epoch", np.asarray([ties[column] for _, ties in measured]))
    data_vars[NONFINITE] = ("epoch", np.asarray(flags, dtype=bool))
    coords = {"epoch": np.asarray(positions, dtype=np.int64), "estimator": list(estimators)}
    if intervals[0] is not None:
        coords["bound"] = list(BOUNDS)
    return xr.Dataset(data_vars, coords=coords)
