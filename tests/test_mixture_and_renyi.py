"""kde-mc (Monte Carlo mixture entropy) and renyi (matrix-based Rényi entropy): closed forms and oracles."""

import numpy as np
import pytest

from ibpipe.estimators.kde import kde_information
from ibpipe.estimators.kde_mc import kde_mc_information
from ibpipe.estimators.renyi import kernel_width, renyi_entropy_nats, renyi_information, renyi_mutual_information_nats


def _two_point_mixture_information_nats(delta):
    """I(X; X + Z), X uniform on {0, delta}, Z ~ N(0, 1): ln 2 - E[ln(1 + exp(-delta T))], T ~ N(delta/2, 1)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return np.log(2) - np.sum(weights * np.log1p(np.exp(-delta * (nodes + delta / 2)))) / np.sqrt(2 * np.pi)


@pytest.mark.parametrize("delta, exact", [(1.0, 0.1114), (2.0, 0.3368), (4.0, 0.6327)])
def test_kde_mc_of_two_points_is_the_exact_mixture_information(delta, exact):
    assert _two_point_mixture_information_nats(delta) == pytest.approx(exact, abs=1e-4)  # the oracle itself
    values = kde_mc_information(np.array([[0.0], [delta]]), np.array([0, 1]), 1.0, noise_draws=40_000, base=np.e)
    assert values["I_XT"] == pytest.approx(exact, abs=0.004)
    assert values["I_TY"] == pytest.approx(values["I_XT"])  # Y = X here


def test_kde_mc_lies_between_the_pairwise_bounds(rng):
    points = np.tanh(rng.normal(size=(400, 3)))
    labels = rng.integers(0, 3, 400)
    for variance in (1e-3, 1e-2, 1e-1):
        bounds = kde_information(points, labels, variance)
        mc = kde_mc_information(points, labels, variance, noise_draws=16)
        assert bounds["lower"]["H_T"] - 0.02 <= mc["H_T"] <= bounds["upper"]["H_T"] + 0.02
        assert bounds["lower"]["I_XT"] - 0.02 <= mc["I_XT"] <= bounds["upper"]["I_XT"] + 0.02


def _every_pair_kde_mc_bits(points, labels, variance, n_draws, seed):
    """kde-mc with every centre in every sum (no reach): the few-line definition, same noise draws."""
    from scipy.special import logsumexp

    n, d = points.shape
    noise = np.random.default_rng(seed).normal(scale=np.sqrt(variance), size=(n, n_draws, d))
    noisy = (points[:, None, :] + noise).reshape(-1, d)
    exponent = -((noisy[:, None, :] - points[None, :, :]) ** 2).sum(-1) / (2 * variance)
    log_all = logsumexp(exponent, axis=1) - np.log(n)
    own_class = np.repeat(labels, n_draws)[:, None] == labels[None, :]
    log_class = logsumexp(np.where(own_class, exponent, -np.inf), axis=1) - np.log(own_class.sum(1))
    log_own = -(noise**2).sum(-1).ravel() / (2 * variance)
    h = -log_all.mean() + 0.5 * d * np.log(2 * np.pi * variance)
    return {
        "H_T": h / np.log(2),
        "I_XT": (log_own - log_all).mean() / np.log(2),
        "I_TY": (log_class - log_all).mean() / np.log(2),
    }


@pytest.mark.parametrize("variance", [1e-4, 1e-3, 1e-1])
def test_kde_mc_skipping_far_centres_changes_no_digit_of_the_every_pair_sum(rng, variance):
    # spread along one axis, so that most centres lie out of reach of a block at small variances
    points = np.c_[np.linspace(-3, 3, 700), 0.05 * rng.normal(size=(700, 2))]
    labels = rng.integers(0, 3, 700)
    found = kde_mc_information(points, labels, variance, noise_draws=3, seed=9)
    expected = _every_pair_kde_mc_bits(points - points.mean(0), labels, variance, 3, 9)
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, rel=1e-11, abs=1e-11)


def test_kde_mc_of_far_apart_components_is_ln_k_plus_the_gaussian_entropy():
    # K = 2 components, d = 2, beta = 0.1: h = ln 2 + ln(2 pi e 0.01) = -1.0741 nats.
    points = np.array([[0.0, 0.0], [10.0, 0.0]])
    values = kde_mc_information(points, np.array([0, 0]), 0.01, noise_draws=5000, base=np.e)
    assert values["H_T"] == pytest.approx(np.log(2) + np.log(2 * np.pi * np.e * 0.01), abs=0.01)
    assert values["I_XT"] == pytest.approx(np.log(2), abs=1e-6) and values["I_TY"] == pytest.approx(0.0, abs=1e-12)


N = 64


@pytest.mark.parametrize("alpha", [1.01, 2.0])
def test_renyi_entropy_of_reference_grams(alpha):
    blocks = np.kron(np.eye(4), np.ones((N // 4, N // 4)))
    assert renyi_entropy_nats(np.eye(N), alpha) / np.log(2) == pytest.approx(6.0)
    assert renyi_entropy_nats(np.ones((N, N)), alpha) == pytest.approx(0.0, abs=1e-9)
    assert renyi_entropy_nats(blocks, alpha) / np.log(2) == pytest.approx(2.0)
    assert renyi_mutual_information_nats(blocks, blocks, alpha) == pytest.approx(renyi_entropy_nats(blocks, alpha))
    assert renyi_mutual_information_nats(np.eye(N), blocks, alpha) / np.log(2) == pytest.approx(2.0)
    assert renyi_mutual_information_nats(np.ones((N, N)), blocks, alpha) == pytest.approx(0.0, abs=1e-9)


def test_renyi_entropy_of_unequal_blocks_is_the_renyi_entropy_of_their_proportions():
    sizes = [32, 16, 16]
    gram = np.zeros((N, N))
    start = 0
    for size in sizes:
        gram[start : start + size, start : start + size] = 1.0
        start += size
    assert renyi_entropy_nats(gram, 1.0) / np.log(2) == pytest.approx(1.5)
    assert renyi_entropy_nats(gram, 2.0) / np.log(2) == pytest.approx(-np.log2(0.25 + 2 / 16))


def test_renyi_information_of_separated_classes_and_its_batches(rng):
    labels = np.repeat(np.arange(4), 100)
    points = rng.normal(scale=0.01, size=(400, 2)) + 50.0 * labels[:, None]
    values = renyi_information(points, labels, renyi_batch=100)
    # Four far-apart clusters: S(T) = I(T;Y) = H(Y) = 2 bits (alpha -> 1), whatever the batch.
    assert values["I_TY"] == pytest.approx(2.0, abs=0.05) and values["H_T"] <= np.log2(100)
    assert values["I_XT"] == pytest.approx(values["H_T"])  # distinct inputs: A_X = I/n
    assert kernel_width(np.zeros((10, 3)), 10) == 1.0  # a constant layer still has a Gram (all ones)
    constant = renyi_information(np.zeros((50, 3)), rng.integers(0, 2, 50))
    assert constant["H_T"] == pytest.approx(0.0, abs=1e-9) and constant["I_TY"] == pytest.approx(0.0, abs=1e-9)
