"""The neuron-space experiment on iris: replicas, alignment, compression curves (small and fast)."""

import numpy as np
import pytest

from ibpipe.data.datasets import load_dataset
from ibpipe.neurons.compression import compression_curves
from ibpipe.neurons.covariances import neuron_gaussians
from ibpipe.neurons.network import layer_arrays
from ibpipe.neurons.replicas import NetSettings, align_replicas, initial_state, replica_arrays, train_net
from ibpipe.neurons.statistics import smallest_parameters_at

SETTINGS = NetSettings(hidden=8, activation="tanh", epochs=300, learning_rate=1.0e-2, seed=0)


@pytest.fixture(scope="module")
def iris():
    data = load_dataset("iris", 0.3, 0)
    x = data.inputs.reshape(len(data.inputs), -1)
    return x[data.train_rows], data.labels[data.train_rows], x[data.test_rows], data.labels[data.test_rows]


@pytest.fixture(scope="module")
def reference(iris):
    train_x, train_y, _, _ = iris
    return layer_arrays(train_net(train_x, train_y, SETTINGS, initial_state(4, 3, SETTINGS)))


def test_alignment_undoes_a_permutation_and_sign_flips_of_the_reference(iris, reference):
    train_x = iris[0]
    w_in, b_in, w_out, b_out = reference
    permutation, signs = np.array([3, 0, 7, 1, 6, 2, 5, 4]), np.array([1, -1, 1, 1, -1, 1, -1, 1])
    scrambled = (w_in[permutation] * signs[:, None], b_in[permutation] * signs, w_out[:, permutation] * signs, b_out)
    aligned = align_replicas(reference, [scrambled], train_x, "tanh")
    assert np.allclose(aligned["w_in"][0], w_in, atol=1e-6) and np.allclose(aligned["w_out"][0], w_out, atol=1e-6)
    assert np.allclose(aligned["quality"][0], 1.0, atol=1e-6)
    by_weights = align_replicas(reference, [scrambled], train_x, "tanh", method="weights")
    assert np.allclose(by_weights["b_in"][0], b_in, atol=1e-6)


def test_replicas_are_seeded_bootstrap_fits(iris):
    train_x, train_y = iris[0], iris[1]
    start = initial_state(4, 3, SETTINGS)
    first = replica_arrays(1, inputs=train_x, labels=train_y, settings=SETTINGS, shared_start=start)
    again = replica_arrays(1, inputs=train_x, labels=train_y, settings=SETTINGS, shared_start=start)
    other = replica_arrays(2, inputs=train_x, labels=train_y, settings=SETTINGS, shared_start=start)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_compression_with_as_many_clusters_as_neurons_keeps_the_accuracy(iris, reference):
    train_x, train_y, test_x, test_y = iris
    replicas = [
        replica_arrays(r, inputs=train_x, labels=train_y, settings=SETTINGS, shared_start=initial_state(4, 3, SETTINGS))
        for r in range(4)
    ]
    aligned = align_replicas(reference, replicas, train_x, "tanh")
    reference_in = np.concatenate([reference[0], reference[1][:, None]], axis=1)
    means, covs = neuron_gaussians(
        reference_in, np.concatenate([aligned["w_in"], aligned["b_in"][..., None]], axis=2), 1.0e-3
    )
    curves = compression_curves(
        means,
        covs,
        reference,
        activation="tanh",
        test_inputs=test_x,
        test_labels=test_y,
        ks=[1, 4, 8],
        restarts=2,
        seed=0,
    )
    assert curves.accuracy.dims == ("metric", "k", "restart") and curves.metric.values.tolist() == ["euclidean", "w2"]
    assert np.allclose(curves.accuracy.sel(k=8), curves.attrs["accuracy_full"])
    # k distinct neurons: k (4 + 1) incoming and 3 (k + 1) outgoing parameters.
    assert curves.params.values.tolist() == [k * 5 + 3 * (k + 1) for k in (1, 4, 8)]
    assert curves.attrs["params_full"] == 8 * 5 + 3 * 9
    assert 0 <= curves.attrs["p_value_overall"] <= 1 and curves.p_value.dims == ("k",)
    assert curves.attrs["w2_better"] + curves.attrs["euclidean_better"] + curves.attrs["ties"] == 3 * 2
    smallest = smallest_parameters_at(curves, 0.9)
    assert set(smallest) == {"euclidean", "w2"} and smallest["euclidean"] <= curves.attrs["params_full"]
