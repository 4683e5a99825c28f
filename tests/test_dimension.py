"""Entropy and intrinsic dimension of point clouds against closed forms and known manifolds."""

import numpy as np
import pytest

from ibpipe.data.manifolds import make_manifold
from ibpipe.dimension.bends import two_segment_fit
from ibpipe.dimension.correlation import correlation_dimension, pair_distances
from ibpipe.dimension.loo_kde import (
    loo_kde_entropy,
    loo_log_likelihood,
    loo_ml_bandwidth,
    monte_carlo_entropy,
    rule_of_thumb_bandwidth,
)
from ibpipe.dimension.twonn import twonn_dimension, twonn_fit


@pytest.mark.parametrize("n_dims", [1, 2])
def test_loo_kde_entropy_of_a_standard_gaussian_is_its_closed_form(n_dims):
    points = np.random.default_rng(n_dims).normal(size=(2000, n_dims))
    expected = 0.5 * n_dims * np.log(2 * np.pi * np.e)
    assert loo_kde_entropy(points, "loo-ml") == pytest.approx(expected, abs=0.03)


def test_entropy_moves_by_ln_det_under_scaling_and_standardising_removes_it():
    points = np.random.default_rng(0).normal(size=(1500, 2))
    # A scalar ML bandwidth scales with the points: H(cZ) = H(Z) + d ln c exactly.
    assert loo_kde_entropy(points * 3.0, "loo-ml") - loo_kde_entropy(points, "loo-ml") == pytest.approx(
        2 * np.log(3.0), abs=1e-4
    )
    # Unequal scales change the raw entropy and leave the standardised one alone.
    stretched = points * np.array([3.0, 0.5])
    assert abs(loo_kde_entropy(stretched, "loo-ml") - loo_kde_entropy(points, "loo-ml")) > 0.3
    assert loo_kde_entropy(stretched, "loo-ml", standardised=True) == pytest.approx(
        loo_kde_entropy(points, "loo-ml", standardised=True), abs=1e-4
    )


def test_bandwidth_rules_and_blocks():
    points = np.random.default_rng(1).normal(size=(400, 3))
    n, d = points.shape
    spread = np.sqrt(points.var(axis=0).mean())
    assert rule_of_thumb_bandwidth(points, "scott") == pytest.approx(spread * n ** (-1 / (d + 4)))
    assert rule_of_thumb_bandwidth(points, "silverman") == pytest.approx(
        spread * (4 / (d + 2)) ** (1 / (d + 4)) * n ** (-1 / (d + 4))
    )
    # The ML bandwidth maximises the leave-one-out likelihood: nudging it either way lowers it.
    best = loo_ml_bandwidth(points)
    assert loo_log_likelihood(points, best) >= max(
        loo_log_likelihood(points, best * 1.05), loo_log_likelihood(points, best / 1.05)
    )
    # Block size changes the memory, never the value.
    assert loo_kde_entropy(points, 0.4, block=7) == pytest.approx(loo_kde_entropy(points, 0.4, block=4096), abs=1e-12)
    assert loo_log_likelihood(points, 0.4, block=7) == pytest.approx(loo_log_likelihood(points, 0.4), abs=1e-12)
    with pytest.raises(ValueError, match="unknown bandwidth rule"):
        loo_kde_entropy(points, "magic")


def test_loo_entropy_matches_a_direct_double_loop():
    points = np.random.default_rng(2).normal(size=(40, 2))
    h = 0.7
    total = 0.0
    for i in range(40):
        kernel = [
            np.exp(-np.sum((points[i] - points[j]) ** 2) / (2 * h * h)) / (2 * np.pi * h * h)
            for j in range(40)
            if j != i
        ]
        total += np.log(np.mean(kernel))
    assert loo_kde_entropy(points, h) == pytest.approx(-total / 40, abs=1e-10)


def test_monte_carlo_entropy_equals_the_direct_kde_log_density_of_held_out_points():
    from scipy.special import logsumexp

    generator = np.random.default_rng(4)
    reference, held_out = generator.normal(size=(60, 2)), generator.normal(size=(25, 2))
    h = 0.6
    squared = ((held_out[:, None, :] - reference[None, :, :]) ** 2).sum(-1)
    log_density = logsumexp(-squared / (2 * h * h), axis=1) - np.log(60) - np.log(2 * np.pi * h * h)
    assert monte_carlo_entropy(reference, held_out, h, block=7) == pytest.approx(-log_density.mean(), abs=1e-10)


def test_monte_carlo_entropy_on_held_out_points_of_a_gaussian():
    generator = np.random.default_rng(3)
    reference, held_out = generator.normal(size=(3000, 1)), generator.normal(size=(3000, 1))
    assert monte_carlo_entropy(reference, held_out) == pytest.approx(0.5 * np.log(2 * np.pi * np.e), abs=0.03)


def test_correlation_dimension_of_a_swiss_roll_and_a_linear_manifold():
    roll, _ = make_manifold("swissroll", 2000, 10, seed=0)
    assert 1.6 <= correlation_dimension(roll) <= 2.3
    linear, true_dim = make_manifold("linear", 2000, 50, intrinsic_dim=5, seed=0)
    assert true_dim == 5
    assert 4.2 <= correlation_dimension(linear) <= 5.5


def test_correlation_dimension_subsamples_pairs_reproducibly():
    points, _ = make_manifold("scurve", 1500, 5, seed=1)
    exact = correlation_dimension(points)
    sampled = correlation_dimension(points, max_pairs=200_000, seed=4)
    assert sampled == correlation_dimension(points, max_pairs=200_000, seed=4)
    assert sampled == pytest.approx(exact, abs=0.15)
    assert len(pair_distances(points, max_pairs=1000)) == 1000


@pytest.mark.parametrize(
    ("name", "k", "low", "high"), [("linear", 3, 2.6, 3.4), ("sphere", 2, 1.7, 2.3), ("swissroll", 2, 1.7, 2.3)]
)
def test_twonn_finds_the_intrinsic_dimension(name, k, low, high):
    points, true_dim = make_manifold(name, 2000, 12, intrinsic_dim=k, seed=2)
    assert true_dim == k
    assert low <= twonn_dimension(points) <= high
    assert twonn_dimension(np.concatenate([points, points[:100]])) == pytest.approx(twonn_dimension(points))


def scikit_dimension_twonn(points: np.ndarray, discard_fraction: float) -> float:
    """scikit-dimension's linear TwoNN fit (skdim.id.TwoNN) in a few lines: r1, r2 from every distance,
    the N ratios sorted, the largest discard_fraction dropped, F(mu_(i)) = i / N, a slope through the origin."""
    from scipy.spatial.distance import cdist

    r = np.sort(cdist(points, points), axis=1)
    mu = np.sort(r[:, 2] / r[:, 1])
    keep = int(len(mu) * (1 - discard_fraction))
    x, y = np.log(mu[:keep]), -np.log(1 - np.arange(1, keep + 1) / len(mu))
    return float(x @ y / (x @ x))


@pytest.mark.parametrize(("n", "dims"), [(400, 3), (300, 40)])  # a k-d tree, and the k-NN query's candidates
@pytest.mark.parametrize("discard_fraction", [0.1, 0.3])
def test_twonn_in_scikit_dimension_convention_is_its_linear_fit(n, dims, discard_fraction):
    points = np.random.default_rng(dims).normal(size=(n, 5)) @ np.random.default_rng(1).normal(size=(5, dims))
    expected = scikit_dimension_twonn(points, discard_fraction)
    ours = twonn_fit(points, discard_fraction, convention="scikit-dimension").dimension
    assert ours == pytest.approx(expected, rel=1e-9, abs=0)
    default = twonn_fit(points, discard_fraction).dimension  # F = (i - 1) / N: a different fit, O(1/N) apart
    assert default != pytest.approx(expected, rel=1e-6) and default == pytest.approx(expected, rel=0.05)
    with pytest.raises(ValueError, match="convention"):
        twonn_fit(points, convention="skdim")
    with pytest.raises(ValueError, match="discard_fraction"):
        twonn_fit(points, 0.0, convention="scikit-dimension")


@pytest.mark.parametrize("breakpoint", [3.0, 5.0, 4.37])
def test_two_segment_fit_is_exact_on_noiseless_piecewise_linear_curves(breakpoint):
    x = np.arange(1, 11, dtype=float)
    y = 2.0 + 1.5 * np.minimum(x - breakpoint, 0) + 0.2 * np.maximum(x - breakpoint, 0)
    bend = two_segment_fit(x, y)
    assert bend.breakpoint == pytest.approx(breakpoint, abs=1e-6)
    assert (bend.slope_before, bend.slope_after, bend.intercept) == pytest.approx((1.5, 0.2, 2.0), abs=1e-6)
    assert bend.r_squared == pytest.approx(1.0) and bend.r_squared_line < 1.0


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="n_points >= 3"):
        loo_kde_entropy(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        correlation_dimension(np.array([[0.0], [np.nan], [1.0]]))
    with pytest.raises(ValueError, match="unknown manifold"):
        make_manifold("torus", 10, 3)
    with pytest.raises(ValueError, match="ambient dimension 2"):
        make_manifold("swissroll", 10, 2)


def test_compiled_pair_distances_equal_the_differences_and_distinct_rows_follow_their_input():
    from ibpipe.dimension.loo_kde import distinct_points
    from ibpipe.estimators.pairwise import paired_distances

    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 4))
    first, second = rng.integers(0, 300, 1000), rng.integers(0, 300, 1000)
    expected = np.linalg.norm(points[first] - points[second], axis=1)
    np.testing.assert_allclose(paired_distances(points, first, second), expected, rtol=1e-14)
    repeated = np.concatenate([points, points[:50]])
    np.testing.assert_array_equal(distinct_points(repeated), np.unique(repeated, axis=0))
    changed = repeated.copy()
    changed[0, 0] += 1.0  # other values: not the last call's rows
    np.testing.assert_array_equal(distinct_points(changed), np.unique(changed, axis=0))


def test_the_dimensions_of_one_cell_share_its_distinct_rows_and_equal_separate_calls():
    from types import SimpleNamespace

    from ibpipe.dimension import loo_kde
    from ibpipe.dimension.registry import DIMENSION_ESTIMATORS
    from ibpipe.infoplane.measure import activation_dimensions

    rng = np.random.default_rng(1)
    base = np.tanh(2 * rng.normal(size=(400, 3)))
    points = np.concatenate([base, base[:100]])  # repeated rows, merged once for both estimators
    params = SimpleNamespace(dimension_pairs=5000, seed=0)
    loo_kde._DISTINCT[:] = [None, None]
    shared, ties = activation_dimensions(points, params, ("corrdim", "twonn"))
    separate = []
    for name in ("corrdim", "twonn"):
        loo_kde._DISTINCT[:] = [None, None]
        separate.append(DIMENSION_ESTIMATORS[name].estimate(points, params.dimension_pairs, params.seed)[0])
    np.testing.assert_array_equal(shared, separate)
    assert np.isfinite(shared).all() and ties.tolist() == [0, 0]


@pytest.mark.parametrize("n_dims", [1, 3, 8, 9])
def test_distinct_points_are_np_uniques_rows_by_either_sort(n_dims):
    """Narrow rows are ranked column by column (lexsort), wider ones by np.unique: the same rows, the same order,
    repeated and -0.0/0.0 rows merged as np.unique merges them."""
    from ibpipe.dimension import loo_kde

    rng = np.random.default_rng(n_dims)
    points = np.round(rng.normal(size=(300, n_dims)), 1)  # coarse: many repeated rows and ties per column
    points[5] = 0.0
    points[6] = -0.0
    loo_kde._DISTINCT[:] = [None, None]
    distinct = loo_kde.distinct_points(points)
    expected = np.unique(points, axis=0)
    assert len(distinct) < len(points) and np.array_equal(distinct, expected)
    assert np.array_equal(loo_kde._sorted_distinct(points), expected)
