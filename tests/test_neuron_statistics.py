"""The variational posterior, the paired permutation test and the gait task (small and fast)."""

import numpy as np
import pytest
import torch
from scipy.stats import binom

from ibpipe.neurons.gait import autoregressive_windows, gait_signal
from ibpipe.neurons.gaussians import w2_squared, w2_squared_lowrank
from ibpipe.neurons.statistics import area_under_curve, paired_comparison, paired_permutation_test
from ibpipe.neurons.tasks import series_task
from ibpipe.neurons.variational import fit_lowrank_posterior


def test_variational_posterior_recovers_bayesian_linear_regression():
    """y = X w + noise (sigma known), prior N(m0, tau^2 I): the posterior is N(mu, S) with
    S = (X^T X / sigma^2 + I / tau^2)^-1, mu = S (X^T y / sigma^2 + m0 / tau^2)."""
    rng = np.random.default_rng(0)
    n, p, sigma, tau = 40, 3, 0.5, 1.0
    x = np.column_stack([rng.normal(size=(n, p - 1)), np.ones(n)])
    y = x @ np.array([1.0, -2.0, 0.5]) + sigma * rng.normal(size=n)
    prior_mean = np.array([[0.3, 0.0, -0.2]])
    covariance = np.linalg.inv(x.T @ x / sigma**2 + np.eye(p) / tau**2)
    mean = covariance @ (x.T @ y / sigma**2 + prior_mean[0] / tau**2)
    x_t, y_t = torch.as_tensor(x), torch.as_tensor(y)

    def log_likelihood(theta):  # theta (S, 1, p)
        return -(((theta[:, 0, :] @ x_t.T - y_t) ** 2).sum(dim=1)) / (2 * sigma**2)

    posterior = fit_lowrank_posterior(
        log_likelihood, prior_mean, tau, rank=p, steps=400, samples=64, learning_rate=5e-2, seed=0
    )
    sd = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(posterior.means[0] - mean) < 0.1 * sd)
    fitted = posterior.covariances[0]
    assert np.linalg.norm(fitted - covariance) / np.linalg.norm(covariance) < 0.1
    factors = posterior.lowrank_factors()
    assert np.allclose(factors[0] @ factors[0].T, fitted)


def test_w2_through_the_posterior_factors_equals_the_full_formula():
    rng = np.random.default_rng(1)
    a1, a2 = rng.normal(size=(4, 6)), rng.normal(size=(4, 2))
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    assert w2_squared_lowrank(m1, a1, m2, a2) == pytest.approx(w2_squared(m1, a1 @ a1.T, m2, a2 @ a2.T), abs=1e-8)


def test_permutation_p_values_are_uniform_under_the_null_and_small_under_a_shift():
    rng = np.random.default_rng(2)
    draws = 200
    null = np.array([paired_permutation_test(rng.normal(size=12), rng.normal(size=12)) for _ in range(draws)])
    low, high = binom.ppf([0.0005, 0.9995], draws, 0.1)
    assert low <= np.sum(null < 0.1) <= high
    low, high = binom.ppf([0.0005, 0.9995], draws, 0.5)
    assert low <= np.sum(null < 0.5) <= high
    shifted = [paired_permutation_test(rng.normal(1.0, 1.0, 12), rng.normal(size=12)) for _ in range(20)]
    assert np.median(shifted) < 0.05


def test_exact_and_sampled_permutation_tests_agree_and_five_pairs_cannot_go_below_1_16():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.5, 1, 14), rng.normal(size=14)
    exact = paired_permutation_test(a, b)
    sampled = paired_permutation_test(a, b, n_permutations=40_000, exact_up_to=0)
    assert sampled == pytest.approx(exact, abs=0.01)
    assert paired_permutation_test(np.arange(1.0, 6.0), np.zeros(5)) == pytest.approx(2 / 32)
    assert paired_permutation_test(np.ones(4), np.ones(4)) == 1.0


def test_paired_comparison_interval_and_effect_size_match_hand_formulas():
    d = np.array([0.1, 0.3, -0.1, 0.2, 0.4, 0.0])
    comparison = paired_comparison(d, np.zeros(6))
    half = 2.570581835636314 * d.std(ddof=1) / np.sqrt(6)  # t_{0.975, 5}
    assert comparison.mean_difference == pytest.approx(d.mean())
    assert (comparison.ci95_low, comparison.ci95_high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert comparison.effect_size_dz == pytest.approx(d.mean() / d.std(ddof=1))


def test_area_under_curve_is_the_mean_over_the_parameter_range():
    assert area_under_curve([10, 0, 20], [[1.0, 0.0, 1.0]]) == pytest.approx([0.75])
    assert area_under_curve([5], [[0.3]]) == pytest.approx([0.3])


def test_gait_windows_shift_by_one_sample_and_the_series_repeats_with_its_seed():
    series = gait_signal(600, seed=4)
    assert np.array_equal(series, gait_signal(600, seed=4)) and not np.array_equal(series, gait_signal(600, seed=5))
    inputs, targets = autoregressive_windows(series, 100, 3)
    assert inputs.shape == (498, 100) and targets.shape == (498, 3)
    assert np.array_equal(inputs[1, :-1], inputs[0, 1:]) and targets[0, 0] == series[100] == inputs[1, -1]
    # Dominant frequency: the step frequency, 1.8 Hz (+- the drift and a bin of 50/600 Hz).
    spectrum = np.abs(np.fft.rfft(series - series.mean()))
    assert abs(np.fft.rfftfreq(600, 1 / 50)[spectrum.argmax()] - 1.8) < 0.2


def test_series_task_tests_on_windows_after_every_training_target():
    task = series_task(1000, 50, 2, 0.3, 0)
    n_train = len(task.train_x)
    assert task.train_y.shape == (n_train, 2) and task.test_x.shape[1] == 50
    assert n_train + 50 + 2 - 1 + len(task.test_x) == 1000 - 50 - 2 + 1
