"""Bootstrap intervals that cover the truth: the basic interval against the percentile one."""

import numpy as np
import pytest

from ibpipe.estimators.bootstrap import bootstrap_interval
from ibpipe.estimators.plugin import plugin_information


def _coverage(method, n_trials=150, n_states=16, n_rows=300, flip=0.3):
    # Y = (T mod 2) flipped with probability 0.3, T uniform on 16 states: I(T;Y) = 1 - h(0.3) bits.
    # Plug-in I(T;Y) is biased up by ~(16 - 1)/(2 * 300 ln 2) = 0.036 bits, about its spread.
    truth = 1 + flip * np.log2(flip) + (1 - flip) * np.log2(1 - flip)
    covered = 0
    for seed in range(n_trials):
        generator = np.random.default_rng(seed)
        t = generator.integers(0, n_states, n_rows)
        y = np.where(generator.random(n_rows) < flip, 1 - t % 2, t % 2)

        def estimate(rows, t=t, y=y):
            return {"I_TY": plugin_information(t[rows], y[rows])["I_TY"]}

        low, high = bootstrap_interval(estimate, n_rows, 100, 0.9, seed, method=method)["I_TY"]
        covered += low <= truth <= high
    return covered / n_trials


@pytest.mark.slow
def test_the_basic_interval_covers_at_its_level_where_the_percentile_interval_does_not():
    # 150 trials: the binomial standard error at 90 % is 2.4 %, so 0.82 .. 0.97 tells 90 % from 60 %.
    assert 0.82 <= _coverage("basic") <= 0.97
    assert _coverage("percentile") < 0.6


def test_basic_interval_is_the_percentile_interval_reflected_about_the_estimate():
    values = np.random.default_rng(0).normal(size=200)

    def estimate(rows):
        return {"mean": float(values[rows].mean())}

    percentile = bootstrap_interval(estimate, 200, 50, 0.8, 1, method="percentile")["mean"]
    basic = bootstrap_interval(estimate, 200, 50, 0.8, 1)["mean"]
    assert basic == pytest.approx((2 * values.mean() - percentile[1], 2 * values.mean() - percentile[0]))
    with pytest.raises(ValueError, match="method must be one of basic, percentile"):
        bootstrap_interval(estimate, 200, 50, method="bca")
