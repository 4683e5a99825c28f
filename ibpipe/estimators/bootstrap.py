"""Bootstrap percentile intervals for any estimator of one layer.

Rows are resampled with replacement (inputs, activations or codes and labels together),
the estimator is rerun on every resample, and the interval is the (1 - level)/2 and
(1 + level)/2 quantiles of the resampled values. A resampled input that appears twice is
one input seen twice, so the estimator receives ``x_ids`` saying so.

Caveat: resampling repeats rows, and every estimator here sees a repeated row as less
spread. Where an estimate is driven by the number of distinct states (H(T) and I(X;T) of
fine bins; the KDE and k-NN informations near log N) the replicas sit below the point
estimate and the percentile interval may not contain it. Intervals of I(T;Y) on coarse
codes, where each state holds many samples, are the reliable use.

Reference: B. Efron & R. J. Tibshirani, An Introduction to the Bootstrap, ch. 13 (1993).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Estimate = Callable[[np.ndarray], Mapping[str, float]]


def bootstrap_interval(
    estimate: Estimate,
    n_samples: int,
    n_resamples: int = 100,
    level: float = 0.9,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile interval of every quantity ``estimate`` returns.

    Parameters
    ----------
    estimate : called with an index array (n_samples,) of resampled rows; returns a
        mapping quantity -> value computed on those rows.
    n_samples : rows in the data.
    n_resamples : bootstrap replicas.
    level : coverage of the interval, in (0, 1).
    random_state : seed or Generator of the resampling.

    Returns
    -------
    ``{quantity: (lower, upper)}``.
    """
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    generator = np.random.default_rng(random_state)
    replicas = [estimate(generator.integers(0, n_samples, n_samples)) for _ in range(n_resamples)]
    tails = [(1 - level) / 2, (1 + level) / 2]
    return {
        quantity: tuple(float(q) for q in np.quantile([replica[quantity] for replica in replicas], tails))
        for quantity in replicas[0]
    }
