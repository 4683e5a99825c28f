import numpy as np
import pytest

from ibpipe import information
from ibpipe.estimators.plugin import entropy_bits, mutual_information_bits, plugin_information
from ibpipe.estimators.rowkeys import _hash_rows, row_ids, row_keys


@pytest.mark.parametrize("n_states", [2, 8, 30, 1000])
def test_entropy_bits_of_equiprobable_states_is_log2_k(n_states):
    codes = np.repeat(np.arange(n_states), 7)[:, None]
    assert entropy_bits(codes) == pytest.approx(np.log2(n_states), abs=1e-12)


def test_entropy_bits_of_8_equal_multicolumn_states_is_3():
    states = np.array([[a, b, c] for a in (0, 5) for b in (-1, 2) for c in (7, 9)])
    assert entropy_bits(np.tile(states, (11, 1))) == pytest.approx(3.0, abs=1e-12)


def test_unique_rows_give_log2_n_and_all_of_the_label_information():
    patterns = (np.arange(4096)[:, None] >> np.arange(12)) & 1
    labels = np.random.default_rng(0).integers(0, 2, 4096)
    values = plugin_information(patterns, labels)
    assert values["H_T"] == pytest.approx(12.0, abs=1e-12)
    assert values["I_XT"] == pytest.approx(12.0, abs=1e-12)
    assert values["I_TY"] == pytest.approx(entropy_bits(labels), abs=1e-12)


def test_constant_layer_carries_no_information(rng):
    labels = rng.integers(0, 3, 500)
    values = plugin_information(np.full((500, 4), 7), labels)
    assert values == {"H_T": 0.0, "I_XT": 0.0, "I_TY": 0.0}


def test_layer_equal_to_label_carries_h_y(rng):
    labels = rng.integers(0, 4, 2000)
    values = plugin_information(labels[:, None], labels)
    assert values["I_TY"] == pytest.approx(entropy_bits(labels), abs=1e-12)
    assert entropy_bits(labels) == pytest.approx(2.0, abs=0.01)


def test_independent_layer_and_label_show_only_the_known_small_sample_bias(rng):
    n_samples, k_t, k_y = 4000, 8, 2
    estimates = [
        mutual_information_bits(rng.integers(0, k_t, n_samples), rng.integers(0, k_y, n_samples)) for _ in range(300)
    ]
    expected_bias = (k_t - 1) * (k_y - 1) / (2 * n_samples * np.log(2))
    assert np.mean(estimates) == pytest.approx(expected_bias, rel=0.15)


def test_shuffled_labels_give_near_zero_mi(rng):
    codes = rng.integers(0, 4, (3000, 2))
    labels = codes[:, 0] % 2
    shuffled = rng.permutation(labels)
    assert mutual_information_bits(codes, labels) == pytest.approx(1.0, abs=0.01)
    assert mutual_information_bits(codes, shuffled) < 0.01


def test_repeated_inputs_make_i_xt_smaller_than_h_t():
    # Two inputs, each seen twice, mapped to different layer states each time:
    # H(T) = 2 bits but T carries only H(X) = 1 bit about X.
    codes = np.array([[0], [1], [2], [3]])
    values = plugin_information(codes, np.array([0, 0, 1, 1]), x_ids=np.array([0, 0, 1, 1]))
    assert values["H_T"] == pytest.approx(2.0)
    assert values["I_XT"] == pytest.approx(1.0)


def test_x_ids_of_distinct_inputs_reproduce_i_xt_equal_h_t(rng):
    codes = rng.integers(0, 3, (1000, 3))
    labels = rng.integers(0, 2, 1000)
    with_ids = plugin_information(codes, labels, x_ids=np.arange(1000))
    assert with_ids["I_XT"] == pytest.approx(with_ids["H_T"], abs=1e-12)


def test_row_keys_are_equal_exactly_for_equal_rows(rng):
    codes = rng.integers(-3, 4, (5000, 6))
    keys = row_keys(codes)
    _, by_rows = np.unique(codes, axis=0, return_inverse=True)
    _, by_keys = np.unique(keys, return_inverse=True)
    n_states = len(np.unique(codes, axis=0))
    # Same partition of the rows: the pairing of row ids and key ids is one-to-one.
    assert len(np.unique(keys)) == n_states
    assert len(np.unique(by_rows.ravel() * n_states + by_keys.ravel())) == n_states


@pytest.mark.parametrize(
    ("n_columns", "high", "path"),
    [
        (2, 5, "direct ids"),
        (8, 30, "mixed radix"),
        (20, 17, "chained ranks"),
        (300, 17, "packed uint8"),
        (300, 1000, "packed uint16"),
        (300, 100_000, "hash"),
    ],
)
def test_row_ids_partition_rows_exactly_like_unique_rows_on_every_path(rng, n_columns, high, path):
    codes = rng.integers(-2, high, (3000, n_columns))
    codes[1500:2500] = codes[:1000]  # a third of the rows repeat
    ids, n_ids = row_ids(codes)
    _, reference = np.unique(codes, axis=0, return_inverse=True)
    n_states = len(np.unique(codes, axis=0))
    assert ids.min() >= 0 and ids.max() < n_ids
    assert len(np.unique(ids)) == n_states
    assert len(np.unique(reference.ravel() * n_ids + ids)) == n_states, path


def test_hashed_keys_count_the_same_states_as_exact_rows(rng):
    # 40 columns of 0..99 overflow the 63-bit mixed radix, so the hash path is taken.
    codes = rng.integers(0, 100, (3000, 40))
    codes[1000:2000] = codes[:1000]
    keys = row_keys(codes)
    assert np.array_equal(keys, _hash_rows(codes))
    assert len(np.unique(keys)) == len(np.unique(codes, axis=0)) == 2000


def test_information_bins_floats_like_tishby_and_saxe(rng):
    t = rng.uniform(-1, 1, (2000, 3))
    y = rng.integers(0, 2, 2000)
    tishby = information(t, y, n_bins=30, value_range=(-1.0, 1.0))
    edges = np.linspace(-1, 1, 30)
    assert tishby["H_T"] == pytest.approx(entropy_bits(np.digitize(t, edges)))
    saxe = information(t, y, bin_size=0.5)
    assert saxe["H_T"] == pytest.approx(entropy_bits(np.floor(t / 0.5).astype(int)))


def test_information_refuses_unbinned_floats_and_unknown_estimators(rng):
    with pytest.raises(ValueError, match="binning option"):
        information(rng.normal(size=(10, 2)), np.zeros(10, int))
    with pytest.raises(ValueError, match="unknown estimator"):
        information(np.zeros((10, 2), int), np.zeros(10, int), estimator="magic")
