"""Neuron Gaussians, Wasserstein distances and barycentres, k-means, alignment and exact merging."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ibpipe.neurons.alignment import align_by_weights, align_to_reference, apply_alignment
from ibpipe.neurons.covariances import bootstrap_factors, neuron_gaussians, sandwich_covariances
from ibpipe.neurons.gaussians import (
    gaussian_barycentre,
    pairwise_sq_euclidean,
    pairwise_w2_squared,
    pairwise_w2_to_centres,
    sym_sqrt,
    w2_squared,
    w2_squared_diag,
    w2_squared_lowrank,
)
from ibpipe.neurons.kmeans import kmeans, kmeans_plus_plus_seeds
from ibpipe.neurons.merge import compress_layer, count_parameters, sign_test
from ibpipe.neurons.network import (
    HiddenLayerNet,
    accuracy,
    hidden_sandwich_terms,
    layer_arrays,
    merged_net,
    neuron_parameters,
    parameter_count,
    replaced_net,
)


def random_spd(rng, n, p, rank=None):
    factors = rng.normal(size=(n, p, rank or p))
    return factors @ np.swapaxes(factors, -1, -2) + (0.0 if rank else 0.1 * np.eye(p))


def w2_by_sqrtm(m1, S1, m2, S2):
    root = scipy.linalg.sqrtm(S1)
    cross = np.real(np.trace(scipy.linalg.sqrtm(root @ S2 @ root)))
    return np.sum((m1 - m2) ** 2) + np.trace(S1) + np.trace(S2) - 2 * cross


def test_w2_of_two_normals_in_one_dimension_is_ten():
    assert w2_squared([1.0], [[4.0]], [4.0], [[9.0]]) == pytest.approx(10.0, abs=1e-12)
    assert w2_squared_diag([1.0], [4.0], [4.0], [9.0]) == pytest.approx(10.0, abs=1e-12)
    assert w2_squared_lowrank([1.0], [[2.0]], [4.0], [[3.0]]) == pytest.approx(10.0, abs=1e-12)


def test_w2_matches_the_sqrtm_formula_is_symmetric_and_vanishes_on_itself(rng):
    means, covs = rng.normal(size=(2, 5)), random_spd(rng, 2, 5)
    forward = w2_squared(means[0], covs[0], means[1], covs[1])
    assert forward == pytest.approx(w2_by_sqrtm(means[0], covs[0], means[1], covs[1]), rel=1e-9)
    assert forward == pytest.approx(w2_squared(means[1], covs[1], means[0], covs[0]), rel=1e-12)
    assert w2_squared(means[0], covs[0], means[0], covs[0]) == pytest.approx(0.0, abs=1e-10)
    batch_means, batch_covs = rng.normal(size=(2, 20, 5)), random_spd(rng, 40, 5).reshape(2, 20, 5, 5)
    batch = w2_squared(batch_means[0], batch_covs[0], batch_means[1], batch_covs[1])
    loop = [w2_by_sqrtm(batch_means[0, i], batch_covs[0, i], batch_means[1, i], batch_covs[1, i]) for i in range(20)]
    assert batch.shape == (20,) and np.allclose(batch, loop, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("ranks", [(2, 2), (2, 4), (3, 8)])
def test_low_rank_and_full_w2_agree(rng, ranks):
    p = 6
    m1, m2 = rng.normal(size=(2, p))
    A1, A2 = rng.normal(size=(p, ranks[0])), rng.normal(size=(p, ranks[1]))
    full = w2_squared(m1, A1 @ A1.T, m2, A2 @ A2.T)
    assert w2_squared_lowrank(m1, A1, m2, A2) == pytest.approx(full, abs=1e-8)


def test_diagonal_and_full_w2_agree(rng):
    m1, m2 = rng.normal(size=(2, 4))
    s1, s2 = rng.uniform(0.1, 3.0, size=(2, 4))
    assert w2_squared_diag(m1, s1, m2, s2) == pytest.approx(w2_squared(m1, np.diag(s1), m2, np.diag(s2)), abs=1e-12)


def test_sym_sqrt_squares_back_and_drops_round_off_negatives(rng):
    covs = random_spd(rng, 3, 4, rank=2)
    roots = sym_sqrt(covs)
    assert np.allclose(roots @ roots, covs, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(roots) > -1e-12)


def test_pairwise_matrices_equal_loops(rng):
    n, k, p = 7, 3, 3
    means, covs = rng.normal(size=(n, p)), random_spd(rng, n, p)
    centre_means, centre_covs = rng.normal(size=(k, p)), random_spd(rng, k, p)
    pairwise = pairwise_w2_squared(means, covs)
    loop = [[w2_by_sqrtm(means[i], covs[i], means[j], covs[j]) for j in range(n)] for i in range(n)]
    assert np.allclose(pairwise, loop, atol=1e-9) and np.array_equal(pairwise, pairwise.T)
    to_centres = pairwise_w2_to_centres(means, covs, centre_means, centre_covs)
    loop = [[w2_by_sqrtm(means[i], covs[i], centre_means[j], centre_covs[j]) for j in range(k)] for i in range(n)]
    assert np.allclose(to_centres, loop, atol=1e-9)
    variances = rng.uniform(0.1, 2.0, size=(n, p))
    diagonal = pairwise_w2_squared(means, variances)
    loop = [[w2_squared_diag(means[i], variances[i], means[j], variances[j]) for j in range(n)] for i in range(n)]
    assert np.allclose(diagonal, loop, atol=1e-12)
    euclidean = pairwise_sq_euclidean(means, centre_means)
    assert np.allclose(euclidean, [[np.sum((a - b) ** 2) for b in centre_means] for a in means], atol=1e-12)


def test_barycentre_of_two_normals_in_one_dimension_has_variance_nine_quarters():
    mean, cov, n_iter = gaussian_barycentre([[0.0], [0.0]], [[[1.0]], [[4.0]]])
    assert cov[0, 0] == pytest.approx(2.25, abs=1e-9) and mean[0] == 0 and n_iter > 0
    assert gaussian_barycentre([[0.0], [0.0]], [[1.0], [4.0]])[1][0] == pytest.approx(2.25, abs=1e-12)


def test_barycentre_of_crossed_diagonals_is_four_times_identity(rng):
    diagonal = gaussian_barycentre(np.zeros((2, 2)), np.array([[1.0, 9.0], [9.0, 1.0]]))[1]
    assert np.allclose(diagonal, [4.0, 4.0], atol=1e-12)
    full = gaussian_barycentre(np.zeros((2, 2)), np.array([np.diag([1.0, 9.0]), np.diag([9.0, 1.0])]))[1]
    assert np.allclose(full, 4 * np.eye(2), atol=1e-9)
    rotation = np.linalg.qr(rng.normal(size=(2, 2)))[0]
    rotated = rotation @ np.array([np.diag([1.0, 9.0]), np.diag([9.0, 1.0])]) @ rotation.T
    assert np.allclose(gaussian_barycentre(np.zeros((2, 2)), rotated)[1], 4 * np.eye(2), atol=1e-9)


def test_barycentre_is_a_fixed_point_and_minimises_the_weighted_w2(rng):
    means, covs, weights = rng.normal(size=(4, 3)), random_spd(rng, 4, 3), np.array([0.1, 0.2, 0.3, 0.4])
    mean, cov, _ = gaussian_barycentre(means, covs, weights, tol=1e-13)
    assert np.allclose(mean, weights @ means)
    root = sym_sqrt(cov)
    assert np.allclose(np.einsum("i,ipq->pq", weights, sym_sqrt(root @ covs @ root)), cov, atol=1e-9)

    def cost(m, S):
        return weights @ w2_squared(means, covs, m[None], S[None])

    best = cost(mean, cov)
    for _ in range(20):
        direction = rng.normal(size=(3, 3))
        perturbed = cov + 0.05 * (direction + direction.T)
        if np.all(np.linalg.eigvalsh(perturbed) > 0):
            assert cost(mean, perturbed) > best
        assert cost(mean + 0.05 * rng.normal(size=3), cov) > best


def clustered_gaussians(rng, n_per_cluster=8, p=3):
    centres = 6.0 * rng.normal(size=(3, p))
    means = np.repeat(centres, n_per_cluster, axis=0) + rng.normal(size=(3 * n_per_cluster, p))
    scales = np.repeat([0.2, 1.0, 3.0], n_per_cluster)
    covs = scales[:, None, None] * random_spd(rng, 3 * n_per_cluster, p) / p
    return means, covs, np.repeat(np.arange(3), n_per_cluster)


@pytest.mark.parametrize("metric", ["euclidean", "w2"])
def test_lloyd_objective_never_increases(rng, metric):
    means, covs, _ = clustered_gaussians(rng)
    for seed in range(3):
        result = kmeans(means, covs, k=5, metric=metric, n_init=1, seed=seed)
        history = result.objective_history
        assert len(history) >= 2 and result.objective == history[-1]
        assert np.all(np.diff(history) <= 1e-9 * history[0])
        distances = (
            pairwise_sq_euclidean(means, result.centre_means)
            if metric == "euclidean"
            else (pairwise_w2_to_centres(means, covs, result.centre_means, result.centre_covs))
        )
        assert result.objective == pytest.approx(distances[np.arange(len(means)), result.labels].sum(), rel=1e-9)
    variances = np.einsum("npp->np", covs)
    diagonal = kmeans(means, variances, k=4, metric="w2", n_init=1, seed=0).objective_history
    assert np.all(np.diff(diagonal) <= 1e-12 * diagonal[0])


@pytest.mark.parametrize("metric", ["euclidean", "w2"])
def test_kmeans_is_deterministic_and_finds_separated_clusters(rng, metric):
    means, covs, truth = clustered_gaussians(rng)
    first = kmeans(means, covs, k=3, metric=metric, seed=11)
    again = kmeans(means, covs, k=3, metric=metric, seed=11)
    assert np.array_equal(first.labels, again.labels) and np.array_equal(
        first.objective_history, again.objective_history
    )
    assert len({(t, label) for t, label in zip(truth, first.labels)}) == 3
    for j in range(3):
        members = first.labels == j
        assert np.allclose(first.centre_means[j], means[members].mean(axis=0))
        if metric == "w2":
            assert np.allclose(first.centre_covs[j], gaussian_barycentre(means[members], covs[members])[1], atol=1e-7)


def test_w2_kmeans_separates_neurons_by_covariance_alone(rng):
    covs = np.concatenate(
        [0.1 * np.eye(3)[None].repeat(6, 0), 25.0 * np.eye(3)[None].repeat(6, 0)]
    ) + 0.01 * random_spd(rng, 12, 3)
    result = kmeans(np.zeros((12, 3)), covs, k=2, metric="w2", seed=0)
    assert (
        len(set(result.labels[:6])) == 1 and len(set(result.labels[6:])) == 1 and result.labels[0] != result.labels[6]
    )


def test_kmeans_plus_plus_samples_in_proportion_to_the_distance():
    points = np.r_[np.zeros(50), 1.0, 10.0][:, None]

    def distance_to(i):
        return pairwise_sq_euclidean(points, points[i : i + 1])[:, 0]

    picks = [kmeans_plus_plus_seeds(distance_to, 52, 2, np.random.default_rng(seed)) for seed in range(200)]
    from_zero = [pair[1] for pair in picks if pair[0] < 50]
    assert len(from_zero) > 150 and np.mean(np.array(from_zero) == 51) > 0.9
    assert all(len(set(pair)) == 2 for pair in picks)
    assert sorted(kmeans_plus_plus_seeds(distance_to, 52, 52, np.random.default_rng(0))) == list(range(52))


def test_kmeans_with_more_clusters_than_distinct_points_leaves_none_empty():
    means = np.repeat([[0.0, 0.0], [5.0, 5.0]], 3, axis=0)
    result = kmeans(means, k=4, seed=0)
    assert np.array_equal(np.unique(result.labels), np.arange(4)) and result.objective == 0.0


def small_net(rng, n_in=4, hidden=12, n_out=3):
    torch.manual_seed(int(rng.integers(1 << 30)))
    return HiddenLayerNet(n_in, hidden, n_out).double()


@pytest.mark.parametrize("metric", ["euclidean", "w2"])
def test_one_cluster_per_neuron_leaves_the_network_unchanged(rng, metric):
    net = small_net(rng)
    thetas = neuron_parameters(net)
    result = kmeans(thetas, random_spd(rng, 12, 5), k=12, metric=metric, seed=0)
    w_in, b_in, w_out, _b_out = layer_arrays(net)
    compressed = compress_layer(w_in, b_in, w_out, result.labels, result.centre_means)
    for before, after in zip((w_in, b_in, w_out), compressed):
        assert np.array_equal(before, after)
    inputs, labels = rng.normal(size=(50, 4)), rng.integers(3, size=50)
    assert accuracy(merged_net(net, result.labels, result.centre_means), inputs, labels) == accuracy(
        net, inputs, labels
    )


def test_merged_network_computes_the_replaced_network(rng):
    net = small_net(rng)
    result = kmeans(neuron_parameters(net), k=4, seed=0)
    replaced, merged = (
        replaced_net(net, result.labels, result.centre_means),
        merged_net(net, result.labels, result.centre_means),
    )
    inputs = torch.as_tensor(rng.normal(size=(64, 4)))
    with torch.no_grad():
        assert torch.allclose(merged(inputs), replaced(inputs), rtol=0, atol=1e-9)
        assert not torch.allclose(replaced(inputs), net(inputs), atol=1e-3)
    assert merged.hidden.out_features == 4
    assert parameter_count(merged) == 4 * 5 + 3 * 4 + 3 == count_parameters([(4, 4), (4,), (3, 4), (3,)])


def test_compress_layer_merges_equal_centres_and_sums_outgoing_columns():
    w_in, b_in = np.arange(8.0).reshape(4, 2), np.zeros(4)
    w_out = np.array([[1.0, 2.0, 3.0, 4.0]])
    centres = np.array([[1.0, 1.0, 0.5], [2.0, 2.0, 0.0], [1.0, 1.0, 0.5]])
    merged_in, merged_bias, merged_out = compress_layer(w_in, b_in, w_out, np.array([1, 0, 2, 1]), centres)
    assert np.array_equal(merged_in, [[2.0, 2.0], [1.0, 1.0]]) and np.array_equal(merged_bias, [0.0, 0.5])
    assert np.array_equal(merged_out, [[5.0, 5.0]])


def tanh_layer(rng, n_samples=400, n_in=5, hidden=6):
    inputs = rng.normal(size=(n_samples, n_in))
    w_in, b_in = rng.normal(size=(hidden, n_in)), rng.normal(size=hidden)
    return inputs, w_in, b_in


def test_alignment_recovers_a_known_permutation_and_signs(rng):
    inputs, w_in, b_in = tanh_layer(rng)
    permutation, signs = rng.permutation(6), np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0])
    replica_in, replica_bias = np.empty_like(w_in), np.empty_like(b_in)
    replica_in[permutation] = signs[:, None] * (w_in + 0.05 * rng.normal(size=w_in.shape))
    replica_bias[permutation] = signs * b_in
    reference_activations = np.tanh(inputs @ w_in.T + b_in)
    replica_activations = np.tanh(inputs @ replica_in.T + replica_bias)
    found, found_signs, quality = align_to_reference(reference_activations, replica_activations)
    assert np.array_equal(found, permutation) and np.array_equal(found_signs, signs) and np.all(quality > 0.95)
    by_weights = align_by_weights(np.c_[w_in, b_in], np.c_[replica_in, replica_bias])
    assert np.array_equal(by_weights[0], permutation) and np.array_equal(by_weights[1], signs)
    w_out = rng.normal(size=(2, 6))
    aligned_in, aligned_bias, aligned_out = apply_alignment(replica_in, replica_bias, w_out, found, found_signs)
    assert np.allclose(aligned_in, w_in, atol=0.3) and np.allclose(aligned_bias, b_in)
    assert np.allclose(
        np.tanh(inputs @ aligned_in.T + aligned_bias) @ aligned_out.T,
        np.tanh(inputs @ replica_in.T + replica_bias) @ w_out.T,
    )
    relu_signs = align_to_reference(
        np.maximum(reference_activations, 0), np.maximum(replica_activations, 0), odd=False
    )[1]
    assert np.all(relu_signs == 1.0)


def test_neuron_gaussians_are_the_replica_covariances_plus_a_relative_ridge(rng):
    reference, replicas = rng.normal(size=(3, 4)), rng.normal(size=(3, 3, 4))
    means, covs = neuron_gaussians(reference, replicas, ridge=0.1)
    plain = np.array([np.cov(replicas[:, j, :], rowvar=False) for j in range(3)])
    level = 0.1 * np.mean([np.trace(c) for c in plain]) / 4
    assert np.array_equal(means, reference) and np.allclose(covs, plain + level * np.eye(4))
    assert np.all(np.linalg.eigvalsh(covs) > 0) and np.linalg.matrix_rank(plain[0]) == 2
    factors = bootstrap_factors(replicas)
    assert np.allclose(factors @ np.swapaxes(factors, 1, 2), plain)


def test_sandwich_covariance_of_a_known_case(rng):
    gradients = np.array([1.0, -2.0, 3.0, -2.0]).reshape(4, 1, 1)
    covariance = sandwich_covariances(gradients, np.array([[[2.0]]]), damping=0.5)
    assert covariance[0, 0, 0] == pytest.approx(np.mean(gradients**2) / 2.5**2 / 4)
    gradients, hessians = rng.normal(size=(30, 2, 3)), random_spd(rng, 2, 3)
    covs = sandwich_covariances(gradients, hessians, damping=0.0)
    for j in range(2):
        inverse = np.linalg.inv(hessians[j])
        assert np.allclose(covs[j], inverse @ (gradients[:, j].T @ gradients[:, j] / 30) @ inverse / 30)


def test_hidden_sandwich_terms_match_autograd(rng):
    torch.manual_seed(0)
    net = HiddenLayerNet(3, 4, 3).double()
    inputs, labels = torch.as_tensor(rng.normal(size=(20, 3))), torch.as_tensor(rng.integers(3, size=20))
    second_moments, hessians = hidden_sandwich_terms(net, inputs, labels, batch_size=7)
    w_out, b_out = net.output.weight.detach(), net.output.bias.detach()

    def mean_loss(theta, x=inputs, y=labels):
        logits = torch.tanh(x @ theta[:, :-1].T + theta[:, -1]) @ w_out.T + b_out
        return torch.nn.functional.cross_entropy(logits, y)

    theta = torch.as_tensor(neuron_parameters(net))
    full = torch.autograd.functional.hessian(mean_loss, theta).numpy()
    assert np.allclose(hessians, np.stack([full[j, :, j, :] for j in range(4)]), atol=1e-10)
    per_sample = np.stack(
        [
            torch.autograd.functional.jacobian(
                lambda t, n=n: mean_loss(t, inputs[n : n + 1], labels[n : n + 1]), theta
            ).numpy()
            for n in range(20)
        ]
    )
    assert np.allclose(second_moments, np.einsum("njp,njq->jpq", per_sample, per_sample) / 20, atol=1e-12)


def test_sign_test_on_known_cases():
    assert sign_test(np.ones(10), np.zeros(10)) == pytest.approx(2 / 1024)
    assert sign_test(np.r_[np.ones(10), np.zeros(3)], np.zeros(13)) == pytest.approx(2 / 1024)
    assert sign_test(np.r_[np.ones(8), -np.ones(2)], np.zeros(10)) == pytest.approx(2 * (45 + 10 + 1) / 1024)
    assert sign_test(np.r_[np.ones(5), -np.ones(5)], np.zeros(10)) == 1.0
    assert sign_test(np.zeros(4), np.zeros(4)) == 1.0
