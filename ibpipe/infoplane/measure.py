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
from ibpipe.estimators.counting import count_states
from ibpipe.estimators.inputs import class_labels
from ibpipe.estimators.plugin import state_ids
from ibpipe.estimators.registry import ESTIMATORS, QUANTITIES, EstimatorSettings, estimate_layer, unmeasured
from ibpipe.settings import FromParams


class SlabMeasures(NamedTuple):
    """What one (layer, epochs) task measured, every array with the epoch first.

    ``points`` (epoch, estimator, quantity) in bits; ``intervals`` (..., bound) or None without
    bootstrap; ``states`` (epoch,) distinct code rows (NaN without codes); ``dimensions``
    (epoch, dimension estimator); ``capped`` (epoch, estimator) informations clipped to a ceiling;
    ``nonfinite`` (epoch,) True where the activations held NaN or inf (every measure of that cell is
    then NaN); ``ties`` (epoch, dimension estimator) points a dimension estimator discarded as ties.
    """

    points: np.ndarray
    intervals: np.ndarray | None
    states: np.ndarray
    dimensions: np.ndarray
    capped: np.ndarray
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
    bootstrap_method: str = "basic"
    seed: int = 0
    window: int = 1
    dimensions: tuple[str, ...] = ()
    dimension_pairs: int = 100_000
    noise_draws: int = 8
    renyi_alpha: float = 1.01
    renyi_batch: int = 256
    # Not an estimate param: the noise of a noisy network, read from the activations store.
    noise_std: float = 0.0
    max_pairwise_samples: int = 0  # the library default: all rows; the estimate stage reads the params' cap
    memory_limit: int = 2000  # MB per worker
    device: str = "auto"

    def settings(self, base: float = 2.0) -> EstimatorSettings:
        return EstimatorSettings(
            noise_variance=self.noise_variance,
            n_neighbors=self.n_neighbors,
            random_state=self.seed,
            noise_draws=self.noise_draws,
            renyi_alpha=self.renyi_alpha,
            renyi_batch=self.renyi_batch,
            noise_std=self.noise_std,
            base=base,
        )

    def run(
        self, labels, codes=None, activations=None, x_ids=None, estimators=None, pre_noise=None
    ) -> dict[str, dict[str, float]]:
        """``{estimator: {quantity: bits, capped}}``; sample propagation is NaN for a layer without
        pre-noise draws (the output layer)."""
        names = tuple(estimators or self.estimators)
        without_draws = "sample-propagation" in names and pre_noise is None
        wanted = tuple(name for name in names if not (without_draws and name == "sample-propagation"))
        results = (
            estimate_layer(
                wanted,
                labels,
                codes=codes,
                activations=activations,
                x_ids=x_ids,
                pre_noise=pre_noise,
                settings=self.settings(),
            )
            if wanted
            else {}
        )
        if without_draws:
            results["sample-propagation"] = unmeasured()
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
    noise_draws: int = 8,
    renyi_alpha: float = 1.01,
    renyi_batch: int = 256,
    base: float = 2.0,
) -> dict[str, float]:
    """H(T), I(X;T) and I(T;Y) for one layer, in bits (``base`` 2) or nats (``base`` e).

    Parameters
    ----------
    t : (n_samples, n_units) activations; for the counting estimators (``plugin``,
        ``miller-madow``) integer (or boolean) codes are also accepted when no binning option is given.
    y : (n_samples,) class labels, integer or integral floats (one-hot: pass ``y.argmax(1)``).
    estimator : a name of ``ibpipe.estimators.registry.ESTIMATORS``.
    x_ids : (n_samples,) which distinct input each row came from; default: all rows distinct.
    n_bins, value_range : Tishby's bins, left edges ``linspace(*value_range, n_bins)``.
    bin_size : Saxe's bins, ``floor(t / bin_size)``.
    noise_variance : s2 of the Gaussian noise of ``kde-*`` and ``knn``.
    n_neighbors, random_state, noise_draws : k, noise seed and draws per row of ``knn`` and ``kde-mc``.
    renyi_alpha, renyi_batch : alpha and batch size of ``renyi``.

    Returns
    -------
    ``{"H_T", "I_XT", "I_TY", "capped"}``: I_XT in [0, H(X)], I_TY in [0, H(Y)] of the rows
    given; ``capped`` how many of the two were clipped to a ceiling. Non-finite activations
    give NaN for all three and one ``RuntimeWarning``.

    Raises
    ------
    ValueError : unknown estimator, no rows, labels that are not 1-D class indices, rows of
        ``t``, ``y`` and ``x_ids`` that differ in number, float ``t`` for a counting estimator
        without a binning option, or a setting out of range.

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
    if ESTIMATORS[estimator].needs == "pre_noise":
        raise ValueError(
            f"{estimator!r} reads the noiseless outputs of repeated noisy passes, not one layer array: call "
            "ibpipe.estimators.sample_propagation.sample_propagation_information(draws, labels, noise_std)"
        )
    t = _layer_array(t)
    y = class_labels(y, len(t), name="y")
    if len(t) == 0:
        raise ValueError("t has no rows: there is nothing to estimate")
    if n_bins is not None and bin_size is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    if t.dtype.kind == "f" and not np.all(np.isfinite(t)):
        warnings.warn(
            f"t holds {np.size(t) - np.count_nonzero(np.isfinite(t))} NaN or inf values (diverged training?): "
            "H(T), I(X;T), I(T;Y) are NaN",
            RuntimeWarning,
            stacklevel=2,
        )
        return unmeasured()
    options = EstimateOptions(
        (estimator,),
        noise_variance,
        n_neighbors,
        seed=random_state,
        noise_draws=noise_draws,
        renyi_alpha=renyi_alpha,
        renyi_batch=renyi_batch,
    )
    run = {"labels": y, "x_ids": x_ids, "settings": options.settings(base)}
    if ESTIMATORS[estimator].needs == "activations":
        return estimate_layer((estimator,), activations=t.astype(np.float64), **run)[estimator]
    if n_bins is not None or bin_size is not None:  # bin and find the states in one compiled pass
        t = count_states(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range).ids[:, None]
    elif t.dtype.kind == "f":
        raise ValueError("float activations need a binning option: n_bins (with value_range) or bin_size")
    return estimate_layer((estimator,), codes=t, **run)[estimator]


def _layer_array(t: np.ndarray) -> np.ndarray:
    """``t`` as a 2-D array of real numbers (booleans as 0/1 codes)."""
    t = np.asarray(t)
    if t.dtype == bool:
        t = t.astype(np.uint8)
    if t.dtype.kind not in "iuf":
        raise ValueError(f"t must hold real numbers, got dtype {t.dtype}")
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"t must be (n_samples, n_units), got shape {t.shape}")
    return t


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
    options: EstimateOptions, labels: np.ndarray, x_ids: np.ndarray, codes=None, activations=None, pre_noise=None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Point estimates (n_estimators, n_quantities), with bootstrap on intervals (..., 2) (else None), and
    how many informations each estimator had clipped to a ceiling (n_estimators,)."""
    values = options.run(labels, codes, activations, x_ids, pre_noise=pre_noise)
    point = _as_row(values, options.estimators)
    capped = np.array([values[name]["capped"] for name in options.estimators], dtype=np.int64)
    if options.bootstrap_resamples == 0:
        return point, None, capped

    def pick(values, rows):
        return None if values is None else values[rows]

    intervals = np.empty((*point.shape, 2))
    for column, name in enumerate(options.estimators):

        def resampled(rows, name=name):
            return options.run(
                labels[rows], pick(codes, rows), pick(activations, rows), x_ids[rows], (name,), pick(pre_noise, rows)
            )[name]

        bounds = bootstrap_interval(
            resampled,
            len(labels),
            options.bootstrap_resamples,
            options.bootstrap_level,
            options.seed,
            method=options.bootstrap_method,
            point=values[name],
        )
        intervals[column] = [bounds[q] for q in QUANTITIES]
    return point, intervals, capped


def slab_information(
    options: EstimateOptions,
    labels: np.ndarray,
    x_ids: np.ndarray,
    codes_slab=None,
    activations_slab=None,
    lead: int = 0,
    nonfinite: np.ndarray | None = None,
    pre_noise_slab: np.ndarray | None = None,
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
    ``pre_noise_slab`` (epoch, sample, draw, unit): a noisy network's noiseless outputs of repeated
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

    points, intervals, states, capped = [], [], [], []
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
            capped.append(np.zeros(len(options.estimators), dtype=np.int64))
            continue
        codes = pool(codes_slab, first, position)
        draws = None if pre_noise_slab is None else pre_noise_slab[position]
        point, interval, clipped = epoch_information(
            options, pooled_labels, pooled_ids, codes, pool(activations_slab, first, position), draws
        )
        capped.append(clipped)
        points.append(point)
        intervals.append(interval)
        states.append(np.nan if codes is None else distinct_states(codes))
    return SlabMeasures(
        points=np.stack(points),
        intervals=None if intervals[0] is None else np.stack(intervals),
        states=np.asarray(states, dtype=np.float64),
        dimensions=np.stack(dimensions) if dimensions else np.empty((len(points), 0)),
        capped=np.stack(capped),
        nonfinite=np.asarray(flags, dtype=bool),
        ties=np.stack(ties) if ties else np.empty((len(points), 0)),
    )
