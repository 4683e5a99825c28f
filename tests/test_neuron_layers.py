"""Read-out neurons as the neuron set, the neuron dimension (input projections), MNIST for the neuron
experiment, and Algorithm 1 (teacher posterior -> Bayesian student) on a linear-Gaussian case."""

import gzip

import numpy as np
import pytest
import torch

from ibpipe.data.idx import IDX_FILES
from ibpipe.neurons.compression import neuron_compression
from ibpipe.neurons.layers import layer_view
from ibpipe.neurons.network import layer_arrays, layer_sandwich_terms
from ibpipe.neurons.params import NeuronGaussiansParams, NeuronsBootstrapParams, NeuronsCompressParams
from ibpipe.neurons.projection import project, projection
from ibpipe.neurons.replica_sets import replica_set
from ibpipe.neurons.replicas import NetSettings, initial_state, train_net
from ibpipe.neurons.sources import gaussians_dataset
from ibpipe.neurons.tasks import task_of
from ibpipe.neurons.teacher import laplace_posterior, teacher_answers
from ibpipe.schema import sections_json

GAIT = {
    "dataset": "gait",
    "series_length": 300,
    "window": 10,
    "horizon": 6,
    "hidden": 3,
    "epochs": 60,
    "replicas": 4,
    "scheduler": "synchronous",
    "neuron_layer": "output",
}


def _layers(**keys):
    bootstrap = NeuronsBootstrapParams(**keys)
    layers = replica_set(bootstrap, None)
    layers.attrs["params"] = sections_json(bootstrap)
    return bootstrap, layers


@pytest.fixture(scope="module")
def readout():
    return _layers(**GAIT)


def test_readout_neurons_are_the_output_rows_and_biases_of_the_trained_net(readout):
    bootstrap, layers = readout
    task = task_of(bootstrap)
    settings = NetSettings.for_task(bootstrap, loss=task.loss, n_out=task.n_out)
    net = train_net(task.train_x, task.train_y, settings, initial_state(task.train_x.shape[1], task.n_out, settings))
    _, _, w_out, b_out = layer_arrays(net)
    gaussians = gaussians_dataset(layers, NeuronGaussiansParams(covariance="bootstrap", ridge=0.0))
    assert gaussians["mean"].shape == (6, 4)  # six read-out neurons, three weights and a bias each
    np.testing.assert_array_equal(gaussians["mean"].values, np.concatenate([w_out, b_out[:, None]], axis=1))
    replicas = np.concatenate([layers.replica_w_out.values, layers.replica_b_out.values[..., None]], axis=2)
    expected = np.stack([np.cov(replicas[:, j].T) for j in range(6)])
    np.testing.assert_allclose(gaussians.covariance.values, expected, rtol=1e-10, atol=1e-14)
    assert gaussians.attrs["neuron_layer"] == "output"


def test_readout_compression_keeps_the_net_with_one_cluster_per_neuron_and_counts_shared_rows(readout):
    bootstrap, layers = readout
    gaussians = gaussians_dataset(layers, NeuronGaussiansParams(covariance="bootstrap"))
    curves = neuron_compression(
        layers, gaussians, bootstrap, NeuronsCompressParams(restarts=1, metrics=["euclidean"]), None
    )
    assert curves.mse.sel(k=6).item() == pytest.approx(curves.attrs["mse_full"], rel=1e-9)
    params_full = 10 * 3 + 3 + 6 * 3 + 6
    assert curves.attrs["params_full"] == params_full
    # k clusters of read-out neurons keep k distinct rows of 3 + 1 numbers.
    assert list(curves.params.values) == [params_full - (6 - k) * 4 for k in range(1, 7)]
    assert curves.circle_reference.shape == (6, 2)


def test_readout_sandwich_terms_are_the_least_squares_ones():
    rng = np.random.default_rng(0)
    reference = (rng.normal(size=(3, 5)), rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=2))
    inputs, targets = rng.normal(size=(40, 5)), rng.normal(size=(40, 2))
    second, hessians = layer_sandwich_terms(reference, inputs, targets, "tanh", "output", loss="mse")
    features = np.concatenate([np.tanh(inputs @ reference[0].T + reference[1]), np.ones((40, 1))], axis=1)
    residuals = features @ np.concatenate([reference[2], reference[3][:, None]], axis=1).T - targets
    for j in range(2):  # L_n = mean over the two outputs of the squared error: dL/dz = r, d2L/dz2 = 1
        np.testing.assert_allclose(hessians[j], features.T @ features / 40, rtol=1e-12)
        np.testing.assert_allclose(second[j], (features * residuals[:, j : j + 1] ** 2).T @ features / 40, rtol=1e-12)


def test_laplace_student_is_bayesian_linear_regression_on_a_linear_gaussian_case():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(50, 4))
    targets = features @ rng.normal(size=(4, 3)) + 0.3 * rng.normal(size=(50, 3))
    prior_means, tau, noise = rng.normal(size=(3, 4)), 0.7, np.array([0.09, 0.2, 0.5])
    view = layer_view_of(features)
    means, covs = laplace_posterior(view, targets, "mse", prior_means, tau, noise)
    for o in range(3):
        precision = features.T @ features / noise[o] + np.eye(4) / tau**2
        exact_cov = np.linalg.inv(precision)
        exact_mean = exact_cov @ (features.T @ targets[:, o] / noise[o] + prior_means[o] / tau**2)
        np.testing.assert_allclose(covs[o], exact_cov, rtol=1e-10)
        np.testing.assert_allclose(means[o], exact_mean, rtol=1e-7, atol=1e-9)


def layer_view_of(features):
    from ibpipe.neurons.layers import LayerView

    return LayerView(torch.as_tensor(features, dtype=torch.float64), lambda z: z)


def test_algorithm_one_on_readout_neurons_is_the_closed_form_posterior_of_the_teachers_answers(readout):
    bootstrap, layers = readout
    settings = NeuronGaussiansParams(covariance="teacher", prior_scale=0.5, draws=3, seed=7)
    gaussians = gaussians_dataset(layers, settings)
    task = task_of(bootstrap)
    names = ("w_in", "b_in", "w_out", "b_out")
    reference = tuple(layers[f"reference_{name}"].values.astype(np.float64) for name in names)
    features = layer_view(reference, task.train_x, "tanh", "output").features.numpy()
    teacher = np.concatenate([reference[2], reference[3][:, None]], axis=1)
    outputs = features @ teacher.T
    noise = ((outputs - task.train_y) ** 2).mean(axis=0)
    rows, answers = teacher_answers(outputs, "mse", 3, 7, noise)
    np.testing.assert_array_equal(rows, np.tile(np.arange(len(features)), 3))
    f = features[rows]
    for o in range(6):
        cov = np.linalg.inv(f.T @ f / noise[o] + np.eye(4) / 0.5**2)
        mean = cov @ (f.T @ answers[:, o] / noise[o] + teacher[o] / 0.5**2)
        np.testing.assert_allclose(gaussians.covariance.values[o], cov, rtol=1e-8)
        np.testing.assert_allclose(gaussians.posterior_mean.values[o], mean, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(gaussians["mean"].values, teacher)  # means stay the teacher's neurons


def test_teacher_answers_sample_the_softmax_and_the_gaussian_by_hand():
    logits = np.array([[0.0, np.log(3.0)], [50.0, 0.0], [0.0, 50.0]])
    _, labels = teacher_answers(logits, "cross_entropy", 2, 3)
    uniforms = np.random.default_rng(3).random((2, 3))
    first_class = np.array([0.25, 1.0, 0.0])  # p(class 0) per row
    np.testing.assert_array_equal(labels, (uniforms >= first_class).astype(int).reshape(-1))
    outputs = np.array([[1.0, -1.0], [2.0, 0.5]])
    _, answers = teacher_answers(outputs, "mse", 1, 5, np.array([4.0, 0.25]))
    noise = np.random.default_rng(5).standard_normal((1, 2, 2))[0]
    np.testing.assert_array_equal(answers, outputs + np.array([2.0, 0.5]) * noise)


def test_pca_projection_keeps_distances_of_points_in_a_subspace_and_random_is_seeded():
    rng = np.random.default_rng(2)
    points = rng.normal(size=(30, 3)) @ rng.normal(size=(3, 12)) + rng.normal(size=12)
    centre, matrix = projection(points, 3, "pca")
    projected = project(points, centre, matrix).astype(np.float64)
    original = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(projected[:, None] - projected[None], axis=-1), original, atol=1e-4)
    _, first = projection(points, 5, "random", seed=4)
    _, again = projection(points, 5, "random", seed=4)
    _, other = projection(points, 5, "random", seed=5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, np.random.default_rng(4).standard_normal((5, 12)) / np.sqrt(5))
    assert not np.array_equal(first, other)


def test_dim_sets_the_neuron_dimension_of_the_trained_net():
    _, layers = _layers(dataset="wine", dim=4, hidden=3, epochs=20, replicas=2, scheduler="synchronous")
    assert layers.reference_w_in.shape == (3, 4)
    gaussians = gaussians_dataset(layers, NeuronGaussiansParams())
    assert gaussians["mean"].shape == (3, 5)


def _write_idx(root, name, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    (root / f"{IDX_FILES[name]}.gz").write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_mnist_idx_files_the_user_places_are_a_neuron_dataset(tmp_path):
    rng = np.random.default_rng(3)
    labels = {"train": np.arange(40) % 10, "test": np.arange(20) % 10}
    for part, prefix in (("train", "train"), ("test", "test")):
        images = rng.integers(0, 40, (len(labels[part]), 28, 28)) + 20 * labels[part][:, None, None]
        _write_idx(tmp_path, f"{prefix}_images", images)
        _write_idx(tmp_path, f"{prefix}_labels", labels[part])
    keys = {"dataset": "mnist", "root": str(tmp_path), "hidden": 2, "epochs": 5, "replicas": 2}
    bootstrap, layers = _layers(**keys, scheduler="synchronous", dim=6, max_rows=30)
    task = task_of(bootstrap)
    assert task.train_x.shape == (30, 6) and task.test_x.shape == (20, 6) and task.n_out == 10
    assert layers.reference_w_in.shape == (2, 6) and layers.reference_w_out.shape == (10, 2)
    full = task_of(NeuronsBootstrapParams(dataset="mnist", root=str(tmp_path)))
    np.testing.assert_array_equal(full.train_y, labels["train"])
    assert full.train_x.shape == (40, 784) and full.train_x.max() <= 1.0
