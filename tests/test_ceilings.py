"""The cases of a referee's review: every information within [0, H(X)] or [0, H(Y)], counted when clipped."""

import numpy as np
import pytest

from ibpipe import information
from ibpipe.data.tishby12 import load_tishby12
from ibpipe.estimators.registry import ESTIMATORS, NEURAL_ESTIMATORS, estimate_layer
from ibpipe.estimators.rowkeys import bounded_row_keys, row_ids, row_keys

ACTIVATION_ESTIMATORS = [name for name, info in ESTIMATORS.items() if info.needs == "activations"]


def _untrained_tanh_layer(inputs, width=10, seed=0):
    weights = np.random.default_rng(seed).normal(size=(inputs.shape[1], width))
    return np.tanh(inputs @ weights)


def test_knn_information_of_the_12_bit_net_stays_below_its_12_bits():
    # One noise draw per input gave 42 bits here: Kozachenko-Leonenko saw a smooth density
    # instead of 4096 narrow Gaussians. The layer separates the 4096 inputs, so I(X;T) ~ 12.
    inputs, labels = load_tishby12()
    values = information(_untrained_tanh_layer(inputs.astype(float)), labels, "knn", noise_variance=1.0e-3)
    assert 11.5 <= values["I_XT"] <= 12.0


def test_knn_information_of_200_points_on_a_line_stays_below_log2_200():
    # Was 11.2 bits; the ceiling is log2 200 = 7.64 and the mixture-formula value lies below it too.
    points = np.random.default_rng(1).normal(size=(200, 1))
    knn = information(points, np.zeros(200, int), "knn", noise_variance=1.0e-3)
    mixture = information(points, np.zeros(200, int), "kde-mc", noise_variance=1.0e-3)
    assert knn["I_XT"] <= np.log2(200)
    assert knn["I_XT"] == pytest.approx(mixture["I_XT"], abs=0.5)


def test_miller_madow_at_epoch_zero_of_the_12_bit_run_gives_exactly_h_x():
    # 4096 distinct rows: H_MM(T) = 12 + 4095 / (2 * 4096 ln 2) = 12.72 bits, but I(X;T) <= H(X) = 12.
    inputs, labels = load_tishby12()
    values = information(inputs.astype(np.int64), labels, "miller-madow")
    assert values["H_T"] == pytest.approx(12 + 4095 / (2 * 4096 * np.log(2)))
    assert values["I_XT"] == 12.0 and values["capped"] >= 1


@pytest.mark.parametrize("estimator", ["kde-upper", "kde-lower", "kde-mc", "knn", "renyi"])
def test_repeated_jittered_inputs_give_at_most_their_8_bits(estimator):
    # Four jittered copies of 256 inputs: H(X) = 8 bits. Ignoring x_ids gave 9.96 (kde-upper), 14.6 (knn).
    generator = np.random.default_rng(2)
    centres = generator.normal(size=(256, 3))
    rows = np.repeat(centres, 4, axis=0) + generator.normal(scale=0.01, size=(1024, 3))
    x_ids = np.repeat(np.arange(256), 4)
    values = information(rows, x_ids % 2, estimator, x_ids=x_ids, noise_variance=1.0e-3)
    assert 0.0 <= values["I_XT"] <= 8.0 + 1e-9
    if estimator != "renyi":  # the copies sit 0.01 apart and the inputs ~1 apart: all 8 bits are there
        assert values["I_XT"] > 7.5


def test_jittered_copies_raw_kde_bound_respects_h_x_by_construction():
    # The conditional mixture per input makes I(X;T) <= H(X) an identity, not a clip: nothing is capped.
    generator = np.random.default_rng(3)
    rows = np.repeat(generator.normal(size=(64, 2)), 4, axis=0) + generator.normal(scale=0.05, size=(256, 2))
    x_ids = np.repeat(np.arange(64), 4)
    values = estimate_layer(["kde-upper", "kde-lower"], x_ids % 3, activations=rows, x_ids=x_ids, noise_variance=0.01)
    assert all(value["capped"] == 0 and value["I_XT"] <= 6.0 for value in values.values())


def test_knn_information_with_labels_is_defined_when_every_class_has_one_sample():
    # Was NaN: no class had a second point. Each row now brings k + 1 or more noise draws.
    points = np.random.default_rng(4).normal(size=(50, 2))
    values = information(points, np.arange(50), "knn", noise_variance=1.0e-3)
    assert np.isfinite(values["I_TY"]) and 0.0 <= values["I_TY"] <= np.log2(50)
    assert values["I_TY"] > 5.0  # Y = X here, and the points are far apart at this noise


def test_knn_mixed_information_refuses_classes_too_small_for_k_with_a_clear_message():
    from ibpipe.estimators.knn import mixed_information_nats

    with pytest.raises(ValueError, match="at least k \\+ 1 = 4 samples"):
        mixed_information_nats(np.arange(10.0), np.arange(10), n_neighbors=3)


@pytest.mark.parametrize(
    "estimator",  # the neural bounds read labels by the same class_labels (tests/test_neural_estimators.py)
    [name for name, info in ESTIMATORS.items() if info.needs != "pre_noise" and name not in NEURAL_ESTIMATORS],
)
def test_labels_are_handled_alike_by_every_estimator(estimator):
    generator = np.random.default_rng(5)
    activations = np.tanh(generator.normal(size=(120, 2)))
    codes = np.digitize(activations, np.linspace(-1, 1, 6))
    layer = codes if ESTIMATORS[estimator].needs == "codes" else activations
    labels = generator.integers(0, 3, 120)
    as_int = information(layer, labels, estimator, noise_variance=1.0e-2)
    assert information(layer, labels.astype(np.float32), estimator, noise_variance=1.0e-2) == as_int
    with pytest.raises(ValueError, match=r"one-hot labels: pass labels\.argmax"):
        information(layer, np.eye(3)[labels], estimator)
    with pytest.raises(ValueError, match="integral class indices"):
        information(layer, labels + 0.5, estimator)


def test_row_ids_of_huge_user_codes_do_not_overflow():
    generator = np.random.default_rng(6)
    extremes = np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max])
    codes = np.stack([generator.choice(extremes, 500), generator.integers(-(2**62), 2**62, 500) // 2**60], axis=1)
    codes = np.concatenate([codes, codes[:100]])
    ids, n_ids = row_ids(codes)
    _, reference = np.unique(codes, axis=0, return_inverse=True)
    assert n_ids > 0 and ids.min() >= 0 and ids.max() < n_ids
    pairs = {(int(a), int(b)) for a, b in zip(ids, reference.ravel())}
    assert len(pairs) == len(np.unique(ids)) == len(np.unique(reference))  # the same partition of the rows
    huge = np.array([[2**64 - 1, 0], [0, 1], [2**64 - 1, 0]], dtype=np.uint64)
    assert row_ids(huge)[0].tolist()[0] == row_ids(huge)[0].tolist()[2] != row_ids(huge)[0].tolist()[1]
    keys = row_keys(codes)
    assert len(np.unique(keys)) == len(np.unique(reference))
    chunk_keys = bounded_row_keys(codes, codes.min(axis=0), codes.max(axis=0))
    assert len(np.unique(chunk_keys)) == len(np.unique(reference))
