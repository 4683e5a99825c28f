"""Information of one layer: the public one-layer API and the pure per-(epoch, layer) measurement.

Nothing here touches files: the store readers live in ``ibpipe.infoplane.tasks``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
from ibpipe.estimators.bootstrap import bootstrap_interval
from ibpipe.estimators.plugin import state_ids
from ibpipe.estimators.registry import ESTIMATORS, QUANTITIES, estimate_layer
from ibpipe.infoplane import reduce as reducing
from ibpipe.settings import FromParams


class SlabMeasures(NamedTuple):
    """What one (layer, epochs) task measured, every array with the epoch first.

    ``points`` (epoch, estimator, quantity) in bits; ``intervals`` (..., bound) or None without
    bootstrap; ``states`` (epoch,) distinct code rows (NaN without codes); ``dimensions``
    (epoch, dimension estimator); ``nonfinite`` (epoch,) True where the activations held NaN or
    inf (every measure of that cell is then NaN); ``ties`` (epoch, dimension estimator) points
    a dimension estimator discarded as ties.
    """

    points: np.ndarray
    intervals: np.ndarray | None
    states: np.ndarray
    dimensions: np.ndarray
    nonfinite: np.ndarray
    ties: np.ndarray


@dataclass(frozen=True)
class EstimateOptions(FromParams):
    """Settings shared by every (epoch, layer) task of one estimate run."""

    estimators: tuple[str, ...]
    noise_variance: float = 1.0e-3
    n_neighbors: int = 3
    bootstrap_resamples: int = 0
    bootstrap_level: float = 0.9
    seed: int = 0
    window: int = 1
    dimensions: tuple[str, ...] = ()
    dimension_pairs: int = 100_000
    # Not an estimate param: the noise of a noisy network, read from the activations store.
    noise_std: float = 0.0

    def run(
        self, labels, codes=None, activations=None, x_ids=None, estimators=None, noise_draws=None
    ) -> dict[str, dict[str, float]]:
        """``{estimator: {quantity: bits}}``; sample propagation is NaN for a layer without noise draws (output)."""
        names = tuple(estimators or self.estimators)
        without_draws = "sample-propagation" in names and noise_draws is None
        wanted = tuple(name for name in names if not (without_draws and name == "sample-propagation"))
        results = (
            estimate_layer(
                wanted,
                labels,
                codes=codes,
                activations=activations,
                x_ids=x_ids,
                noise_variance=self.noise_variance,
                n_neighbors=self.n_neighbors,
                random_state=self.seed,
                noise_draws=noise_draws,
                noise_std=self.noise_std,
            )
            if wanted
            else {}
        )
        if without_draws:
            results["sample-propagation"] = dict.fromkeys(QUANTITIES, np.nan)
        return {name: results[name] for name in names}


def information(
    t: np.ndarray,
    y: np.ndarray,
    estimator: str = "plugin",
    *,
    x_ids: np.ndarray | None = None,
    n_bins: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    bin_size: float | None = None,
    noise_variance: float = 1.0e-3,
    n_neighbors: int = 3,
    random_state: int = 0,
) -> dict[str, float]:
    """H(T), I(X;T) and I(T;Y) in bits for one layer.

    Parameters
    ----------
    t : (n_samples, n_units) activations; for the counting estimators (``plugin``,
        ``miller-madow``) integer codes are also accepted when no binning option is given.
    y : (n_samples,) integer labels.
    estimator : one of ``plugin``, ``miller-madow``, ``kde-upper``, ``kde-lower``, ``knn``.
    x_ids : (n_samples,) which distinct input each row came from; default: all rows distinct.
    n_bins, value_range : Tishby's bins, left edges ``linspace(*value_range, n_bins)``.
    bin_size : Saxe's bins, ``floor(t / bin_size)``.
    noise_variance : s2 of the Gaussian noise of ``kde-*`` and ``knn``.
    n_neighbors, random_state : k and noise seed of ``knn``.

    Examples
    --------
    >>> import numpy as np
    >>> info = information(np.array([[0], [1], [2], [3]]), np.array([0, 0, 1, 1]))
    >>> info["H_T"], info["I_TY"]
    (2.0, 1.0)

    Non-finite activations (NaN, inf) give NaN for every quantity and one ``RuntimeWarning``.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")
    t = np.asarray(t)
    if t.ndim == 1:
        t = t[:, None]
    if np.issubdtype(t.dtype, np.inexact) and not np.isfinite(t).all():
        warnings.warn(
            f"information(): {np.count_nonzero(~np.isfinite(t))} of {t.size} activations are NaN or inf "
            "(diverged training?); every quantity is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        return dict.fromkeys(QUANTITIES, np.nan)
    if n_bins is not None and bin_size is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    options = EstimateOptions((estimator,), noise_variance, n_neighbors, seed=random_state)
    if ESTIMATORS[estimator].needs == "activations":
        return options.run(np.asarray(y), activations=t, x_ids=x_ids)[estimator]
    if n_bins is not None:
        t = reducing.fixed_width_codes(t, n_bins, value_range)
    elif bin_size is not None:
        t = reducing.fixed_size_codes(t, bin_size)
    elif not np.issubdtype(t.dtype, np.integer):
        raise ValueError("float activations need a binning option: n_bins (with value_range) or bin_size")
    return options.run(np.asarray(y), codes=t, x_ids=x_ids)[estimator]


def activation_dimensions(activations: np.ndarray, options: EstimateOptions) -> tuple[np.ndarray, np.ndarray]:
    """Intrinsic dimension of one epoch's raw activations by each of ``options.dimensions`` (NaN where undefined,
    e.g. a layer with fewer than 3 distinct rows, or non-finite values), and the points each discarded as ties."""
    values, ties = [], []
    for name in options.dimensions:
        try:
            if not np.isfinite(activations).all():
                raise ValueError("non-finite activations")
            value = DIMENSION_ESTIMATORS[name].estimate(activations, options.dimension_pairs, options.seed)
        except ValueError:
            value = (np.nan, 0)
        values.append(value[0])
        ties.append(value[1])
    return np.asarray(values, dtype=np.float64), np.asarray(ties, dtype=np.float64)


def distinct_states(codes: np.ndarray) -> int:
    """How many different rows ``codes`` holds (N when every sample is its own state: saturation)."""
    return int(np.unique(state_ids(codes)[0]).size)


def _as_row(values: Mapping[str, Mapping[str, float]], estimators: Sequence[str]) -> np.ndarray:
    return np.array([[values[name][q] for q in QUANTITIES] for name in estimators])


def epoch_information(
    options: EstimateOptions, labels: np.ndarray, x_ids: np.ndarray, codes=None, activations=None, noise_draws=None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Point estimates (n_estimators, n_quantities) and, with bootstrap on, intervals (..., 2)."""
    point = _as_row(options.run(labels, codes, activations, x_ids, noise_draws=noise_draws), options.estimators)
    if options.bootstrap_resamples == 0:
        return point, None

    def pick(values, rows):
        return None if values is None else values[rows]

    intervals = np.empty((*point.shape, 2))
    for column, name in enumerate(options.estimators):

        def resampled(rows, name=name):
            return options.run(
                labels[rows], pick(codes, rows), pick(activations, rows), x_ids[rows], (name,), pick(noise_draws, rows)
            )[name]

        bounds = bootstrap_interval(
            resampled, len(labels), options.bootstrap_resamples, options.bootstrap_level, options.seed
        )
        intervals[column] = [bounds[q] for q in QUANTITIES]
    return point, intervals


def slab_information(
    options: EstimateOptions,
    labels: np.ndarray,
    x_ids: np.ndarray,
    codes_slab=None,
    activations_slab=None,
    lead: int = 0,
    nonfinite: np.ndarray | None = None,
    noise_draws_slab: np.ndarray | None = None,
) -> SlabMeasures:
    """Every epoch of an (epoch, sample, unit) slab but the first ``lead``.

    Returns points (n_epochs - lead, n_estimators, n_quantities), intervals (..., 2) or None,
    the number of distinct states of the codes per epoch (NaN without codes), and the
    intrinsic dimensions of the epoch's own activations (n_epochs - lead, len(options.dimensions)).

    With ``options.window = w > 1`` the epoch at position p is measured on the w epochs
    p - w + 1 .. p pooled into one sample of w x N rows (inputs and labels repeated), so
    T given X has a real distribution ("as if random"); the slab then starts ``lead``
    epochs early to supply them, and positions without w epochs before them are NaN.

    ``nonfinite`` (slab epoch,) counts the NaN or inf activations behind the codes of each epoch
    (the reduce stage's count); an epoch with any, or with non-finite ``activations_slab``, makes
    every measure of the positions whose window holds it NaN, flagged in ``nonfinite`` of the result.
    ``noise_draws_slab`` (epoch, sample, draw, unit): a noisy network's noiseless outputs of repeated
    noisy passes, for ``sample-propagation`` (window 1 only).
    """
    slab = codes_slab if codes_slab is not None else activations_slab
    window = options.window
    pooled_labels, pooled_ids = np.tile(labels, window), np.tile(x_ids, window)
    bad = np.zeros(len(slab), dtype=bool) if nonfinite is None else np.asarray(nonfinite) > 0
    if activations_slab is not None:
        bad |= ~np.isfinite(np.asarray(activations_slab).reshape(len(slab), -1)).all(axis=1)

    def pool(values, first, last):
        return None if values is None else np.concatenate(list(values[first : last + 1]))

    points, intervals, states = [], [], []
    measured = (
        [activation_dimensions(activations_slab[position], options) for position in range(lead, len(slab))]
        if options.dimensions
        else []
    )
    dimensions, ties = [values for values, _ in measured], [discarded for _, discarded in measured]
    flags = []
    for position in range(lead, len(slab)):
        first = position - window + 1
        flags.append(bool(bad[max(first, 0) : position + 1].any()))
        if first < 0 or flags[-1]:
            points.append(np.full((len(options.estimators), len(QUANTITIES)), np.nan))
            intervals.append(None if options.bootstrap_resamples == 0 else np.full((*points[-1].shape, 2), np.nan))
            states.append(np.nan)
            continue
        codes = pool(codes_slab, first, position)
        draws = None if noise_draws_slab is None else noise_draws_slab[position]
        point, interval = epoch_information(
            options, pooled_labels, pooled_ids, codes, pool(activations_slab, first, position), draws
        )
        points.append(point)
        intervals.append(interval)
        states.append(np.nan if codes is None else distinct_states(codes))
    return SlabMeasures(
        points=np.stack(points),
        intervals=None if intervals[0] is None else np.stack(intervals),
        states=np.asarray(states, dtype=np.float64),
        dimensions=np.stack(dimensions) if dimensions else np.empty((len(points), 0)),
        nonfinite=np.asarray(flags, dtype=bool),
        ties=np.stack(ties) if ties else np.empty((len(points), 0)),
    )
