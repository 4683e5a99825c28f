"""Information of one layer: the public one-layer API and the pure per-(epoch, layer) measurement.

Nothing here touches files: the store readers live in ``ibpipe.infoplane.tasks``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
from ibpipe.estimators.bootstrap import bootstrap_interval
from ibpipe.estimators.counting import count_states
from ibpipe.estimators.plugin import state_ids
from ibpipe.estimators.registry import ESTIMATORS, QUANTITIES, estimate_layer
from ibpipe.settings import FromParams


class SlabMeasures(NamedTuple):
    """What one (layer, epochs) task measured, every array with the epoch first.

    ``points`` (epoch, estimator, quantity) in bits; ``intervals`` (..., bound) or None without
    bootstrap; ``states`` (epoch,) distinct code rows (NaN without codes); ``dimensions``
    (epoch, dimension estimator).
    """

    points: np.ndarray
    intervals: np.ndarray | None
    states: np.ndarray
    dimensions: np.ndarray


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
    max_pairwise_samples: int = 0  # the library default: all rows; the estimate stage reads the params' cap
    memory_limit: int = 2000  # MB per worker
    device: str = "auto"

    def run(self, labels, codes=None, activations=None, x_ids=None, estimators=None) -> dict[str, dict[str, float]]:
        return estimate_layer(
            estimators or self.estimators,
            labels,
            codes=codes,
            activations=activations,
            x_ids=x_ids,
            noise_variance=self.noise_variance,
            n_neighbors=self.n_neighbors,
            random_state=self.seed,
        )


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
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")
    t = np.asarray(t)
    if t.ndim == 1:
        t = t[:, None]
    if n_bins is not None and bin_size is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    options = EstimateOptions((estimator,), noise_variance, n_neighbors, seed=random_state)
    if ESTIMATORS[estimator].needs == "activations":
        return options.run(np.asarray(y), activations=t, x_ids=x_ids)[estimator]
    if n_bins is not None or bin_size is not None:  # bin and find the states in one compiled pass
        t = count_states(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range).ids[:, None]
    elif not np.issubdtype(t.dtype, np.integer):
        raise ValueError("float activations need a binning option: n_bins (with value_range) or bin_size")
    return options.run(np.asarray(y), codes=t, x_ids=x_ids)[estimator]


def activation_dimensions(activations: np.ndarray, options: EstimateOptions) -> np.ndarray:
    """Intrinsic dimension of one epoch's raw activations by each of ``options.dimensions`` (NaN where undefined,
    e.g. a layer with fewer than 3 distinct rows)."""
    values = []
    for name in options.dimensions:
        try:
            values.append(DIMENSION_ESTIMATORS[name].estimate(activations, options.dimension_pairs, options.seed))
        except ValueError:
            values.append(np.nan)
    return np.asarray(values, dtype=np.float64)


def distinct_states(codes: np.ndarray) -> int:
    """How many different rows ``codes`` holds (N when every sample is its own state: saturation)."""
    return int(np.unique(state_ids(codes)[0]).size)


def _as_row(values: Mapping[str, Mapping[str, float]], estimators: Sequence[str]) -> np.ndarray:
    return np.array([[values[name][q] for q in QUANTITIES] for name in estimators])


def epoch_information(
    options: EstimateOptions, labels: np.ndarray, x_ids: np.ndarray, codes=None, activations=None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Point estimates (n_estimators, n_quantities) and, with bootstrap on, intervals (..., 2)."""
    point = _as_row(options.run(labels, codes, activations, x_ids), options.estimators)
    if options.bootstrap_resamples == 0:
        return point, None

    def pick(values, rows):
        return None if values is None else values[rows]

    intervals = np.empty((*point.shape, 2))
    for column, name in enumerate(options.estimators):

        def resampled(rows, name=name):
            return options.run(labels[rows], pick(codes, rows), pick(activations, rows), x_ids[rows], (name,))[name]

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
) -> SlabMeasures:
    """Every epoch of an (epoch, sample, unit) slab but the first ``lead``.

    Returns points (n_epochs - lead, n_estimators, n_quantities), intervals (..., 2) or None,
    the number of distinct states of the codes per epoch (NaN without codes), and the
    intrinsic dimensions of the epoch's own activations (n_epochs - lead, len(options.dimensions)).

    With ``options.window = w > 1`` the epoch at position p is measured on the w epochs
    p - w + 1 .. p pooled into one sample of w x N rows (inputs and labels repeated), so
    T given X has a real distribution ("as if random"); the slab then starts ``lead``
    epochs early to supply them, and positions without w epochs before them are NaN.
    """
    slab = codes_slab if codes_slab is not None else activations_slab
    window = options.window
    pooled_labels, pooled_ids = np.tile(labels, window), np.tile(x_ids, window)

    def pool(values, first, last):
        return None if values is None else np.concatenate(list(values[first : last + 1]))

    points, intervals, states = [], [], []
    dimensions = (
        [activation_dimensions(activations_slab[position], options) for position in range(lead, len(slab))]
        if options.dimensions
        else []
    )
    for position in range(lead, len(slab)):
        first = position - window + 1
        if first < 0:
            points.append(np.full((len(options.estimators), len(QUANTITIES)), np.nan))
            intervals.append(None if options.bootstrap_resamples == 0 else np.full((*points[-1].shape, 2), np.nan))
            states.append(np.nan)
            continue
        codes = pool(codes_slab, first, position)
        point, interval = epoch_information(
            options, pooled_labels, pooled_ids, codes, pool(activations_slab, first, position)
        )
        points.append(point)
        intervals.append(interval)
        states.append(np.nan if codes is None else distinct_states(codes))
    dimensions = np.stack(dimensions) if dimensions else np.empty((len(points), 0))
    return SlabMeasures(
        points=np.stack(points),
        intervals=None if intervals[0] is None else np.stack(intervals),
        states=np.asarray(states, dtype=np.float64),
        dimensions=dimensions,
    )
