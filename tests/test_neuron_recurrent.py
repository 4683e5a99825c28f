"""Recurrent neurons h_t = s(W h_{t-1} + V x_t + b) as the neuron set: forward pass, alignment, merging,
and the experiment's stages on the gait series."""

import numpy as np
import pytest
import torch

from ibpipe.errors import ParamsError
from ibpipe.neurons.compression import neuron_compression
from ibpipe.neurons.network import HiddenLayerNet
from ibpipe.neurons.params import NeuronGaussiansParams, NeuronsBootstrapParams, NeuronsCompressParams
from ibpipe.neurons.recurrent import (
    RecurrentNet,
    align_recurrent,
    merge_recurrent,
    permute_recurrent,
    recurrent_rows,
    recurrent_start,
    train_recurrent,
)
from ibpipe.neurons.replica_sets import replica_set
from ibpipe.neurons.replicas import NetSettings
from ibpipe.neurons.sources import gaussians_dataset
from ibpipe.neurons.tasks import task_of
from ibpipe.schema import sections_json


def _outputs(arrays, sequences):
    net = RecurrentNet.from_arrays(*arrays, activation="tanh")
    with torch.no_grad():
        return net(torch.as_tensor(sequences)).numpy()


def _random_net(rng, hidden=4, n_in=2, n_out=3):
    return (
        rng.normal(size=(hidden, hidden + n_in)),
        rng.normal(size=hidden),
        rng.normal(size=(n_out, hidden)),
        rng.normal(size=n_out),
    )


def test_one_step_by_hand_and_two_steps_by_the_recurrence():
    w_in = np.array([[0.5, -1.0, 2.0], [0.25, 0.0, -1.0]])  # [W | V], W 2 x 2, V 2 x 1
    b, u, c = np.array([0.1, -0.2]), np.array([[1.0, 3.0]]), np.array([0.5])
    first = np.tanh(np.array([2.0, -1.0]) * 0.3 + b)  # h_0 = 0
    second = np.tanh(w_in[:, :2] @ first + w_in[:, 2] * -0.7 + b)
    np.testing.assert_allclose(_outputs((w_in, b, u, c), np.array([[0.3]])), u @ first[:, None] + c, rtol=1e-12)
    np.testing.assert_allclose(_outputs((w_in, b, u, c), np.array([[0.3, -0.7]]))[0], u @ second + c, rtol=1e-12)


def test_without_recurrent_weights_the_net_is_the_feed_forward_net_on_the_last_input(rng):
    w_in, b, u, c = _random_net(rng)
    w_in[:, :4] = 0.0
    sequences = rng.normal(size=(7, 5, 2))
    feed_forward = HiddenLayerNet.from_arrays(w_in[:, 4:], b, u, c, "tanh")
    with torch.no_grad():
        expected = feed_forward(torch.as_tensor(sequences[:, -1])).numpy()
    np.testing.assert_allclose(_outputs((w_in, b, u, c), sequences), expected, rtol=1e-12)


def test_alignment_undoes_a_permutation_and_sign_flips_of_rows_and_recurrent_columns(rng):
    reference = _random_net(rng)
    sequences = rng.normal(size=(60, 6, 2))
    permutation, signs = np.array([2, 0, 3, 1]), np.array([1.0, -1.0, -1.0, 1.0])
    scrambled = permute_recurrent(reference, permutation, signs)
    np.testing.assert_allclose(_outputs(scrambled, sequences), _outputs(reference, sequences), rtol=1e-10)
    for method in ("activations", "weights"):
        aligned = align_recurrent(reference, [scrambled], sequences, "tanh", method)
        for name, value in zip(("w_in", "b_in", "w_out"), reference[:3]):
            np.testing.assert_allclose(aligned[name][0], value, atol=1e-12)


def test_merging_neurons_with_equal_rows_computes_the_replaced_net_with_fewer_parameters(rng):
    arrays = _random_net(rng, hidden=5)
    rows = np.concatenate([arrays[0], arrays[1][:, None]], axis=1)
    labels, centres = np.array([0, 1, 0, 2, 1]), rows[[0, 1, 3]]
    replaced = (centres[labels][:, :-1], centres[labels][:, -1], *arrays[2:])
    merged = merge_recurrent(arrays, labels, centres)
    assert merged[0].shape == (3, 3 + 2)
    sequences = rng.normal(size=(20, 7, 2))
    np.testing.assert_allclose(_outputs(merged, sequences), _outputs(replaced, sequences), rtol=1e-10)


@pytest.fixture(scope="module")
def recurrent_layers():
    keys = {"dataset": "gait", "series_length": 260, "window": 8, "horizon": 2, "hidden": 3, "epochs": 40}
    bootstrap = NeuronsBootstrapParams(**keys, architecture="recurrent", replicas=3, scheduler="synchronous")
    layers = replica_set(bootstrap, None)
    layers.attrs["params"] = sections_json(bootstrap)
    return bootstrap, layers


def test_recurrent_neurons_are_the_rows_of_w_and_v_and_the_bias_of_the_trained_net(recurrent_layers):
    bootstrap, layers = recurrent_layers
    task = task_of(bootstrap)
    settings = NetSettings.for_task(bootstrap, loss=task.loss, n_out=task.n_out)
    net = train_recurrent(task.train_x, task.train_y, settings, recurrent_start(settings, task.n_out))
    gaussians = gaussians_dataset(layers, NeuronGaussiansParams())
    np.testing.assert_array_equal(gaussians["mean"].values, recurrent_rows(net))
    assert gaussians["mean"].shape == (3, 3 + 1 + 1)
    curves = neuron_compression(
        layers, gaussians, bootstrap, NeuronsCompressParams(restarts=1, metrics=["euclidean"]), None
    )
    assert curves.mse.sel(k=3).item() == pytest.approx(curves.attrs["mse_full"], rel=1e-9)
    assert list(curves.params.values) == [k * k + k * 2 + 2 * k + 2 for k in (1, 2, 3)]
    with pytest.raises(ParamsError, match="covariance: bootstrap"):
        gaussians_dataset(layers, NeuronGaussiansParams(covariance="sandwich"))
