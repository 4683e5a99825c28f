"""Ties and degenerate data: TwoNN ties, correlation dimension on repeated rows, singular barycentre starts,
clipping ranges, and Chelombiev et al.'s entropy-based adaptive binning (point masses, pooled ties) against
its oracles."""

import warnings

import numpy as np
import pytest

from ibpipe.config.reduce import ReduceParams
from ibpipe.data.tishby12 import load_tishby12
from ibpipe.dimension.correlation import correlation_dimension
from ibpipe.dimension.twonn import twonn_fit
from ibpipe.errors import ParamsError
from ibpipe.estimators.binning import ebab_codes, ebab_edges
from ibpipe.infoplane.reduce import LayerReducer, LayerReduction, code_layer
from ibpipe.neurons.gaussians import gaussian_barycentre, w2_squared
from ibpipe.neurons.kmeans import kmeans
from ibpipe.schema import build_sections


def plugin_bits(codes):
    _, counts = np.unique(codes, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def test_twonn_on_the_binary_12_bit_inputs_reports_every_ratio_tied_not_zero_over_zero():
    # Old code: every mu = 1, ln mu = 0, so x @ y / (x @ x) = 0 / 0 = NaN without a word.
    inputs, _ = load_tishby12()
    result = twonn_fit(inputs)
    assert result.discarded == 4096 and result.n_points == 4096 and np.isnan(result.dimension)


def test_twonn_discards_ties_of_rounded_data_and_keeps_the_dimension():
    # Old code: 9e15-like values once rounding made some r2 = r1.
    points = np.round(np.random.default_rng(0).normal(size=(2000, 2)), 1)
    result = twonn_fit(points)
    assert result.discarded > 0
    assert 1.5 < result.dimension < 2.6
    untied = twonn_fit(np.random.default_rng(0).normal(size=(2000, 2)))
    assert untied.discarded == 0 and 1.8 < untied.dimension < 2.2


def test_correlation_dimension_merges_repeated_rows():
    # A 2-D Gaussian whose other half of rows is one repeated point. Old code: 2.35 (the copies' pairs
    # with the Gaussian rows weigh one point a thousand times); merged rows: 1.95.
    rng = np.random.default_rng(5)
    points = rng.normal(size=(1000, 2))
    repeated = np.concatenate([points, np.zeros((1000, 2))])
    merged = np.concatenate([points, np.zeros((1, 2))])
    assert correlation_dimension(repeated, max_pairs=100_000) == pytest.approx(
        correlation_dimension(merged, max_pairs=100_000), abs=1e-12
    )
    assert 1.85 < correlation_dimension(repeated, max_pairs=100_000) < 2.15


def test_kmeans_without_a_ridge_reaches_the_objective_of_true_barycentres():
    # Rank-2 covariances in 4-D (replicas without a ridge). Old code: the warm start from a singular
    # seed covariance stayed singular and ended 7 % above the true barycentres' objective.
    rng = np.random.default_rng(3)
    factors = rng.normal(size=(24, 4, 2))
    covs, means = factors @ factors.transpose(0, 2, 1), 0.3 * rng.normal(size=(24, 4))
    result = kmeans(means, covs, k=3, metric="w2", seed=0, n_init=1)
    true_objective = 0.0
    for j in range(3):
        members = result.labels == j
        mean, cov, _ = gaussian_barycentre(means[members], covs[members], tol=1e-12)
        true_objective += w2_squared(means[members], covs[members], mean[None], cov[None]).sum()
    assert result.objective_history[-1] == pytest.approx(true_objective, rel=1e-6)


def test_a_singular_initial_covariance_does_not_trap_the_barycentre():
    covs = np.array([np.diag([1.0, 9.0]), np.diag([9.0, 1.0])]) + 0.0
    singular_start = np.diag([1.0, 0.0])
    _, cov, _ = gaussian_barycentre(np.zeros((2, 2)), covs[:, :, :], initial_cov=singular_start, tol=1e-13)
    assert np.allclose(cov, 4 * np.eye(2), atol=1e-9)


def test_a_fixed_range_that_clips_most_values_warns_with_layer_share_and_fix():
    values = np.maximum(np.random.default_rng(0).normal(0, 3, size=(2, 500, 3)), 0)  # ReLU on [-1, 1]
    reducer = LayerReducer(LayerReduction("fixed-width", value_range=(-1.0, 1.0)), (3,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coded = code_layer(reducer, [slice(0, 2)], lambda e: [(slice(None), values[e])], lambda *a: None, 500, "h1")
    share = np.mean(values > 1)
    assert coded.clipped == pytest.approx(share)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "'h1'" in message and f"{share:.1%}" in message and "value_range: data" in message
    tanh = np.tanh(values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code_layer(reducer, [slice(0, 2)], lambda e: [(slice(None), tanh[e])], lambda *a: None, 500, "h1")


def test_ebab_of_all_distinct_values_is_the_published_4_909_bits():
    values = np.random.default_rng(0).uniform(-1, 1, size=(4096, 1))
    assert plugin_bits(ebab_codes(values, ebab_edges(values, 30))) == pytest.approx(4.909, abs=5e-4)


def test_ebab_puts_relu_zeros_in_a_bin_of_their_own_3_454_bits():
    rng = np.random.default_rng(0)
    values = rng.permutation(np.r_[np.zeros(2048), rng.exponential(size=2048)])[:, None]  # ReLU, 50 % zeros
    codes = ebab_codes(values, ebab_edges(values, 30))
    zeros = values[:, 0] == 0
    assert set(codes[zeros, 0].tolist()) == {0} and not np.any(codes[~zeros] == 0)
    p0 = zeros.mean()
    h2 = -(p0 * np.log2(p0) + (1 - p0) * np.log2(1 - p0))
    assert plugin_bits(codes) == pytest.approx(h2 + (1 - p0) * np.log2(30), abs=3e-3)
    assert plugin_bits(codes) == pytest.approx(3.454, abs=3e-3)


def test_ebab_pools_the_units_of_a_layer_and_counts_distinct_values():
    # Two units: one saturated at exactly 1.0 for half the samples. A per-unit equal-mass binning would
    # give the point mass half the bins; EBAB counts it once, as in Chelombiev et al.'s code.
    rng = np.random.default_rng(1)
    values = np.column_stack(
        [rng.uniform(-1, 1, 1000), np.where(rng.random(1000) < 0.5, 1.0, rng.uniform(-1, 1, 1000))]
    )
    edges = ebab_edges(values, 30)
    distinct = np.unique(values)
    assert len(edges) == 32 and edges[0] == -1.000001 and edges[-1] == 1.0
    assert np.array_equal(edges[1:-1], distinct[(np.arange(30) * distinct.size) // 30])
    codes = LayerReducer(LayerReduction("ebab", n_bins=30), (2,)).fit_transform_epoch(values)
    assert np.array_equal(codes, np.digitize(values, edges) - 1)


def test_adaptive_is_refused_with_the_names_to_use_instead():
    with pytest.raises(
        ParamsError, match=r"reduce\.method = 'adaptive': expected one of 'fixed-width'.*'equal-mass'.*'ebab'"
    ):
        build_sections({"reduce": {"method": "adaptive"}}, (ReduceParams,))
    with pytest.raises(ParamsError, match="equal-mass"):
        build_sections({"reduce": {"layers": {"h1": {"method": "adaptive"}}}}, (ReduceParams,))
    with pytest.raises(ValueError, match=r"equal-mass.*ebab"):
        LayerReduction("adaptive")
