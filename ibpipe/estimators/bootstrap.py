"""Bootstrap intervals for any estimator of one layer: basic (bias-corrected, default) or percentile.

Rows are resampled with replacement (inputs, activations or codes and labels together) and
the estimator is rerun on every resample; q_lo, q_hi are the (1 - level)/2 and (1 + level)/2
quantiles of the replicas and theta the point estimate on all rows:

    percentile: [q_lo, q_hi]
    basic:      [2 theta - q_hi, 2 theta - q_lo]     (reverse percentile)

Plug-in entropies and informations are biased by O(1/N) (entropy down, information up), and
a resample, which repeats rows, is biased the same way once more: the replicas sit on the
far side of theta from the truth. The percentile interval then misses the truth (measured:
31 % coverage in 150 trials at a nominal 90 % for plug-in I(T;Y) of 16 states, 300 rows) and may
even exclude theta itself. The basic interval reflects the replicas about theta, so their
bias estimate (mean replica - theta) is subtracted: 89 % coverage on the same case
(tests/test_bootstrap.py measures both). Like theta it can lie wholly above or below the
point estimate when the bias exceeds the spread: that is the bias correction, not an error.
Near saturation (I(X;T) ~ log N with all rows distinct) no resampling interval is
meaningful: a resample has fewer distinct inputs than the data.

Reference: B. Efron & R. J. Tibshirani, An Introduction to the Bootstrap, ch. 13 (1993);
A. C. Davison & D. V. Hinkley, Bootstrap Methods and their Application, sec. 5.2 (1997).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Estimate = Callable[[np.ndarray], Mapping[str, float]]
METHODS = ("basic", "percentile")


def bootstrap_interval(
    estimate: Estimate,
    n_samples: int,
    n_resamples: int = 100,
    level: float = 0.9,
    seed: int | np.random.Generator | None = 0,
    *,
    method: str = "basic",
    point: Mapping[str, float] | None = None,
) -> dict[str, tuple[float, float]]:
    """Interval of every quantity ``estimate`` returns.

    Parameters
    ----------
    estimate : called with an index array (n_samples,) of rows; returns a mapping
        quantity -> value computed on those rows.
    n_samples : rows in the data.
    n_resamples : bootstrap replicas.
    level : coverage of the interval, in (0, 1).
    seed : seed or Generator of the resampling.
    method : ``basic`` (bias-corrected, default) or ``percentile``.
    point : the estimate on all rows, when the caller has it (else computed here).

    Returns
    -------
    ``{quantity: (lower, upper)}``; NaN where the point or a replica is NaN.
    """
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    generator = np.random.default_rng(seed)
    if point is None and method == "basic":
        point = estimate(np.arange(n_samples))
    replicas = [estimate(generator.integers(0, n_samples, n_samples)) for _ in range(n_resamples)]
    tails = [(1 - level) / 2, (1 + level) / 2]
    intervals = {}
    for quantity in replicas[0]:
        low, high = (float(q) for q in np.quantile([replica[quantity] for replica in replicas], tails))
        if method == "basic":
            theta = float(point[quantity])
            low, high = 2 * theta - high, 2 * theta - low
        intervals[quantity] = (low, high)
    return intervals
