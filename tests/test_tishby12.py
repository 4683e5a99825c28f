import itertools

import numpy as np

from ibpipe.data.datasets import load_dataset
from ibpipe.data.tishby12 import VERTEX_OF_COLUMN, all_patterns, icosahedron_vertices, load_tishby12


def test_patterns_are_all_4096_binary_rows_most_significant_bit_first():
    patterns = all_patterns()
    assert patterns.shape == (4096, 12)
    assert patterns[1].tolist() == [0] * 11 + [1]
    assert patterns[2048].tolist() == [1] + [0] * 11
    weights = 2 ** np.arange(11, -1, -1)
    assert np.array_equal(patterns @ weights, np.arange(4096))


def test_label_counts_match_the_published_file():
    inputs, labels = load_tishby12()
    assert labels.sum() == 2118
    n_ones = inputs.sum(axis=1).astype(int)
    assert labels[n_ones <= 4].sum() == 0
    assert labels[n_ones >= 8].all()
    for k, ones, rows in ((5, 60, 792), (6, 532, 924), (7, 732, 792)):
        assert (labels[n_ones == k].sum(), (n_ones == k).sum()) == (ones, rows)


def test_label_rule_equals_the_integer_neighbour_rule():
    vertices = icosahedron_vertices()[list(VERTEX_OF_COLUMN)]
    dots = np.round(vertices @ vertices.T, 6)
    neighbour, antipode, second = (
        np.isclose(dots, 1 / np.sqrt(5)),
        np.isclose(dots, -1),
        np.isclose(dots, -1 / np.sqrt(5)),
    )
    inputs, labels = load_tishby12()
    for row, label in zip(inputs.astype(bool), labels):
        on = np.flatnonzero(row)
        pairs = list(itertools.combinations(on, 2))
        a = sum(neighbour[i, j] for i, j in pairs)
        b = sum(antipode[i, j] for i, j in pairs)
        c = sum(second[i, j] for i, j in pairs)
        assert (23 * len(on) + a - 8 * b - 5 * c >= 99) == bool(label)


def test_vertices_are_unit_length_and_form_an_icosahedron():
    vertices = icosahedron_vertices()
    assert np.allclose(np.linalg.norm(vertices, axis=1), 1)
    dots = vertices @ vertices.T
    neighbours = np.isclose(dots, 1 / np.sqrt(5)).sum(axis=1)
    assert (neighbours == 5).all()


def test_split_is_stratified_seeded_and_covers_every_row_once():
    first = load_dataset("tishby12", test_fraction=0.2, split_seed=3)
    again = load_dataset("tishby12", test_fraction=0.2, split_seed=3)
    other = load_dataset("tishby12", test_fraction=0.2, split_seed=4)
    assert len(first.train_rows) == 3277 and len(first.test_rows) == 819
    assert np.array_equal(np.sort(np.concatenate([first.train_rows, first.test_rows])), np.arange(4096))
    assert np.array_equal(first.test_rows, again.test_rows)
    assert not np.array_equal(first.test_rows, other.test_rows)
    share = first.labels[first.test_rows].mean()
    assert abs(share - 2118 / 4096) < 0.002


def test_measured_rows_follow_measure_on():
    assert len(load_dataset("tishby12", measure_on="all").measured_rows) == 4096
    test_only = load_dataset("tishby12", measure_on="test")
    assert np.array_equal(test_only.measured_rows, test_only.test_rows)


def test_digits_are_offline_8x8_images_scaled_to_unit_range():
    digits = load_dataset("digits", test_fraction=0.2, split_seed=0)
    assert digits.inputs.shape == (1797, 1, 8, 8) and digits.inputs.dtype == np.float32
    from sklearn.datasets import load_digits

    raw = load_digits()  # pixel values 0..16
    assert np.allclose(digits.inputs[:, 0], raw.images / 16, rtol=1e-6, atol=0)
    assert np.array_equal(digits.labels, raw.target)
    assert digits.n_classes == 10 and len(digits.test_rows) == 359
