"""Noisy networks (Goldfeld et al., ICML 2019): the sample-propagation estimator against closed forms, and the
noisy MLP (noise in training and measurement, the deterministic network unchanged)."""

import math

import numpy as np
import pytest
import torch

from ibpipe.config.model import ModelParams
from ibpipe.errors import ParamsError
from ibpipe.estimators.registry import estimate_layer
from ibpipe.estimators.sample_propagation import (
    gaussian_entropy_nats,
    mixture_entropy_nats,
    sample_propagation_information,
)
from ibpipe.nn.architectures import build_model, model_spec
from ibpipe.nn.mlp import MLP
from ibpipe.schema import build_sections


def test_far_apart_equal_components_have_entropy_ln_k_plus_the_gaussian_entropy():
    centres = np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0]])
    expected = math.log(3) + 0.5 * 2 * math.log(2 * math.pi * math.e * 0.1**2)
    assert mixture_entropy_nats(centres, 0.1, n_mc=4000) == pytest.approx(expected, abs=0.02)


def test_unequal_weights_as_repeated_centres_give_their_entropy_plus_the_gaussian_entropy():
    centres = np.array([[0.0], [0.0], [50.0]])  # weights (2/3, 1/3)
    weights_entropy = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert mixture_entropy_nats(centres, 1.0, n_mc=4000) == pytest.approx(
        weights_entropy + gaussian_entropy_nats(1, 1.0), abs=0.02
    )


def test_coinciding_centres_give_the_gaussian_entropy_exactly():
    assert mixture_entropy_nats(np.ones((5, 3)), 0.2) == gaussian_entropy_nats(3, 0.2)


@pytest.mark.parametrize(("weight", "bits", "tolerance"), [(0.05, 2.0, 0.02), (0.5, 2.0, 0.02), (10.0, 1.003, 0.02)])
def test_single_tanh_unit_on_four_inputs_has_the_published_information(weight, bits, tolerance):
    x = np.array([-3.0, -1.0, 1.0, 3.0])
    draws = np.tanh(weight * x)[:, None, None]
    values = sample_propagation_information(draws, np.array([0, 0, 1, 1]), 0.01, n_mc=500)
    assert values["I_XT"] == pytest.approx(bits, abs=tolerance)


def test_deeper_layer_conditionals_come_from_the_draws():
    # Four inputs; the noisy passes of input x land on two far-apart points (upstream noise), so
    # h(T|X=x) = ln 2 + h_gauss. h(T) is the mixture of one draw per input: four far-apart centres,
    # ln 4 + h_gauss. I(X;T) = ln 4 - ln 2 nats = 1 bit (a first layer would give 2 bits).
    spread = np.array([0.0, 5.0] * 8)
    draws = (10.0 * np.arange(4)[:, None] * 3 + spread[None, :])[:, :, None]
    values = sample_propagation_information(draws, np.array([0, 0, 1, 1]), 0.05, n_mc=200)
    assert values["I_XT"] == pytest.approx(1.0, abs=0.02)
    assert values["I_TY"] == pytest.approx(1.0, abs=0.02)


def test_registry_dispatches_sample_propagation_and_non_finite_draws_give_nan():
    draws = np.random.default_rng(0).uniform(-1, 1, size=(20, 4, 2))
    result = estimate_layer(("sample-propagation",), np.arange(20) % 2, pre_noise=draws, noise_std=0.05)
    assert set(result["sample-propagation"]) == {"H_T", "I_XT", "I_TY", "capped"}
    draws[3, 1, 0] = np.nan
    assert np.isnan(sample_propagation_information(draws, np.arange(20) % 2, 0.05)["I_XT"])


def test_noisy_mlp_adds_noise_in_training_and_in_measurement_and_deterministic_is_unchanged():
    torch.manual_seed(0)
    plain = MLP(12, [5, 3], 2)
    torch.manual_seed(0)
    noisy = MLP(12, [5, 3], 2, noise_std=0.05)
    assert plain.state_dict().keys() == noisy.state_dict().keys()
    noisy.load_state_dict(plain.state_dict())
    inputs = torch.rand(64, 12)
    plain_layers = plain.record(inputs)
    noisy.eval()
    first, second = noisy.record(inputs), noisy.record(inputs)
    spread = (first["hidden1"] - plain_layers["hidden1"]).std().item()
    assert spread == pytest.approx(0.05, rel=0.2) and not torch.equal(first["hidden1"], second["hidden1"])
    noisy.train()
    assert not torch.equal(noisy(inputs), noisy(inputs))
    draws = noisy.record_pre_noise(inputs, 4)
    assert draws["hidden1"].shape == (64, 4, 5) and "output" not in draws
    assert torch.allclose(draws["hidden1"][:, 0], plain_layers["hidden1"])  # layer 1: S is deterministic
    assert torch.allclose(draws["hidden1"][:, 0], draws["hidden1"][:, 3])
    assert not torch.allclose(draws["hidden2"][:, 0], draws["hidden2"][:, 1])  # upstream noise


def test_the_deterministic_spec_is_unchanged_and_noise_is_for_mlp_only():
    spec = model_spec("mlp", (12,), 2, widths=[5, 3])
    assert "noise_std" not in spec and isinstance(build_model({**spec, "noise_std": 0.1}).layers[0][2], torch.nn.Module)
    with pytest.raises(ParamsError, match=r"noise_std.*mlp only"):
        build_sections({"model": {"arch": "thesis-cnn", "noise_std": 0.1}}, (ModelParams,))


def test_batched_conditional_densities_equal_one_mixture_at_a_time():
    from ibpipe.estimators.sample_propagation import _log_own_mixture_density, log_mixture_density

    rng = np.random.default_rng(4)
    centres, points = rng.normal(size=(6, 5, 2)), rng.normal(size=(6, 3, 2))
    batched = _log_own_mixture_density(points, centres, 0.3)
    single = np.stack([log_mixture_density(p, c, 0.3) for p, c in zip(points, centres)])
    assert np.allclose(batched, single, atol=1e-12)


def test_separated_inputs_give_exactly_log_n_and_h_y_with_common_random_numbers():
    # 64 far-apart first-layer outputs, labels 40 / 24: I(X;T) = 6 bits and I(T;Y) = H(Y) to round-off,
    # never above (independent noise per entropy gave +-0.05 bits at N = 4096 in 10-D).
    centres = 100.0 * np.random.default_rng(5).normal(size=(64, 1, 10))
    labels = np.r_[np.zeros(40), np.ones(24)]
    values = sample_propagation_information(np.repeat(centres, 4, axis=1), labels, 0.05)
    h_y = -(40 / 64 * np.log2(40 / 64) + 24 / 64 * np.log2(24 / 64))
    assert values["I_XT"] == pytest.approx(6.0, abs=1e-9) and values["I_TY"] == pytest.approx(h_y, abs=1e-9)


def test_pre_noise_draws_round_trip_through_the_store_and_are_reproducible(tmp_path):
    import zarr

    from ibpipe.io.layers import create_pre_noise_arrays, read_pre_noise
    from ibpipe.nn.layers import record_pre_noise_slab

    torch.manual_seed(0)
    model = MLP(12, [5, 3], 2, noise_std=0.05)
    weights = [(epoch, {k: v.numpy().copy() for k, v in model.state_dict().items()}) for epoch in (0, 7)]
    inputs = torch.rand(10, 12)
    draws = record_pre_noise_slab(model, weights, inputs, n_draws=3, seed=1)
    again = record_pre_noise_slab(model, weights, inputs, n_draws=3, seed=1)
    assert draws["hidden2"].shape == (2, 10, 3, 3) and np.array_equal(draws["hidden2"], again["hidden2"])
    root = zarr.open_group(tmp_path / "a.zarr", mode="w")
    root.require_group("output")
    arrays = create_pre_noise_arrays(
        root,
        widths={"hidden1": 5, "hidden2": 3},
        n_epochs=2,
        n_samples=10,
        n_draws=3,
        epochs_per_shard=16,
        samples_per_chunk=10000,
    )
    for layer, values in draws.items():
        arrays[layer][0:2, 0:10] = values
    assert np.array_equal(read_pre_noise(tmp_path / "a.zarr", "hidden2", 1, 2), draws["hidden2"][1:2])
    assert read_pre_noise(tmp_path / "a.zarr", "output", 0, 2) is None
