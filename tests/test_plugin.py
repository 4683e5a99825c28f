from collections import Counter

import numpy as np
import pytest

from ibpipe import information
from ibpipe.estimators import rowkeys
from ibpipe.estimators.plugin import entropy_bits, mutual_information_bits, plugin_information
from ibpipe.estimators.rowkeys import row_ids, row_keys


def counter_entropy(*columns) -> float:
    """Independent plug-in entropy in bits of the rows formed by ``columns``: count tuples, -sum p log2 p."""
    rows = [tuple(np.concatenate([np.ravel(part) for part in parts]).tolist()) for parts in zip(*columns)]
    counts = np.array(list(Counter(rows).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def counter_information(a, b) -> float:
    """Independent plug-in I(A;B) = H(A) + H(B) - H(A,B) in bits."""
    return counter_entropy(a) + counter_entropy(b) - counter_entropy(a, b)


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
    assert values["I_TY"] == pytest.approx(counter_entropy(labels), abs=1e-12)


def test_constant_layer_carries_no_information(rng):
    labels = rng.integers(0, 3, 500)
    values = plugin_information(np.full((500, 4), 7), labels)
    assert values == {"H_T": 0.0, "I_XT": 0.0, "I_TY": 0.0}


def test_layer_equal_to_label_carries_h_y(rng):
    labels = rng.integers(0, 4, 2000)
    values = plugin_information(labels[:, None], labels)
    assert values["H_T"] == pytest.approx(counter_entropy(labels), abs=1e-12)
    assert values["I_TY"] == pytest.approx(counter_entropy(labels), abs=1e-12)


def test_independent_layer_and_label_show_only_the_known_small_sample_bias(rng):
    n_samples, k_t, k_y = 4000, 8, 2
    estimates = [
        mutual_information_bits(rng.integers(0, k_t, n_samples), rng.integers(0, k_y, n_samples)) for _ in range(300)
    ]
    expected_bias = (k_t - 1) * (k_y - 1) / (2 * n_samples * np.log(2))
    assert np.mean(estimates) == pytest.approx(expected_bias, rel=0.15)


def test_label_read_off_the_layer_gives_h_y_and_shuffled_labels_only_the_plugin_bias(rng):
    codes = rng.integers(0, 4, (3000, 2))
    labels = codes[:, 0] % 2
    shuffled = rng.permutation(labels)
    # Y is a function of T: I(T;Y) = H(Y) exactly.
    assert mutual_information_bits(codes, labels) == pytest.approx(counter_entropy(labels), abs=1e-12)
    shuffled_information = mutual_information_bits(codes, shuffled)
    assert shuffled_information == pytest.approx(counter_information(codes, shuffled), abs=1e-12)
    # Independent after shuffling: only the plug-in bias (k_T - 1)(k_Y - 1) / (2 N ln 2) ~ 0.0036 bits is left.
    assert shuffled_information < 3 * (16 - 1) * (2 - 1) / (2 * 3000 * np.log(2))


def test_plugin_information_equals_a_counter_reference_on_random_codes(rng):
    codes = rng.integers(0, 3, (1500, 4))
    labels = (codes.sum(axis=1) + rng.integers(0, 2, 1500)) % 3
    values = plugin_information(codes, labels)
    assert values["H_T"] == pytest.approx(counter_entropy(codes), abs=1e-12)
    assert values["I_XT"] == pytest.approx(counter_entropy(codes), abs=1e-12)
    assert values["I_TY"] == pytest.approx(counter_information(codes, labels), abs=1e-12)
    x_ids = rng.integers(0, 400, 1500)  # repeated inputs: I(X;T) = H(X) + H(T) - H(X,T)
    with_ids = plugin_information(codes, labels, x_ids=x_ids)
    assert with_ids["I_XT"] == pytest.approx(counter_information(x_ids, codes), abs=1e-12)


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


def _spy_on_row_paths(monkeypatch) -> list[str]:
    """Record which of row_ids' strategies runs, by wrapping the function each one calls."""
    taken = []
    for path, name in (
        ("mixed radix", "_mixed_radix"),
        ("chained ranks", "_chained_ids"),
        ("byte strings", "_as_byte_strings"),
        ("hash", "_hash_rows"),
    ):
        original = getattr(rowkeys, name)

        def spy(*args, _original=original, _path=path, **kwargs):
            if _path == "byte strings":
                taken.append(f"packed {args[0].dtype}")
            else:
                taken.append(_path)
            return _original(*args, **kwargs)

        monkeypatch.setattr(rowkeys, name, spy)
    return taken


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
def test_row_ids_partition_rows_exactly_like_unique_rows_on_every_path(rng, monkeypatch, n_columns, high, path):
    codes = rng.integers(-2, high, (3000, n_columns))
    codes[1500:2500] = codes[:1000]  # a third of the rows repeat
    taken = _spy_on_row_paths(monkeypatch)
    ids, n_ids = row_ids(codes)
    _, reference = np.unique(codes, axis=0, return_inverse=True)
    n_states = len(np.unique(codes, axis=0))
    # The strategy named by the case is the one that ran.
    assert taken == (["mixed radix"] if path == "direct ids" else [path])
    assert ids.min() >= 0 and ids.max() < n_ids
    # Direct ids are the mixed-radix keys themselves: the id range is every possible row; otherwise dense.
    assert n_ids == ((high + 2) ** n_columns if path == "direct ids" else n_states)
    assert len(np.unique(ids)) == n_states
    assert len(np.unique(reference.ravel() * n_ids + ids)) == n_states, path


def test_row_keys_hash_wide_rows_and_still_count_the_exact_states(rng, monkeypatch):
    # 40 columns of 0..99 overflow the 63-bit mixed radix, so the hash path is taken.
    codes = rng.integers(0, 100, (3000, 40))
    codes[1000:2000] = codes[:1000]
    taken = _spy_on_row_paths(monkeypatch)
    keys = row_keys(codes)
    assert taken == ["hash"]
    assert keys.dtype == np.int64
    assert len(np.unique(keys)) == len(np.unique(codes, axis=0)) == 2000
    assert np.array_equal(keys[1000:2000], keys[:1000])
    # Keys depend only on the row: shuffling the other rows leaves each row's key alone.
    order = rng.permutation(3000)
    assert np.array_equal(row_keys(codes[order]), keys[order])


def test_information_bins_floats_like_tishby_and_saxe(rng):
    t = rng.uniform(-1, 1, (2000, 3))
    y = rng.integers(0, 2, 2000)
    tishby = information(t, y, n_bins=30, value_range=(-1.0, 1.0))
    edges = np.linspace(-1, 1, 30)
    assert tishby["H_T"] == pytest.approx(counter_entropy(np.digitize(t, edges)), abs=1e-12)
    assert tishby["I_TY"] == pytest.approx(counter_information(np.digitize(t, edges), y), abs=1e-12)
    saxe = information(t, y, bin_size=0.5)
    assert saxe["H_T"] == pytest.approx(counter_entropy(np.floor(t / 0.5).astype(int)), abs=1e-12)


def test_information_refuses_unbinned_floats_and_unknown_estimators(rng):
    with pytest.raises(ValueError, match="binning option"):
        information(rng.normal(size=(10, 2)), np.zeros(10, int))
    with pytest.raises(ValueError, match="unknown estimator"):
        information(np.zeros((10, 2), int), np.zeros(10, int), estimator="magic")
