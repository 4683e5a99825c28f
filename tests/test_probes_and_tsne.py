"""Layer probes (accuracy, usable information, class separation) and t-SNE sequences."""

import numpy as np
import pytest

from ibpipe.infoplane.layer_probes import (
    LayerProbe,
    class_separation,
    earliest_layer_reaching_output,
    probe_layers,
    probe_split,
    spread_positions,
)
from ibpipe.infoplane.tsne import embed_sequence, seeded_rows, sequence_epochs


def balanced_labels(n: int = 2000, n_classes: int = 4) -> np.ndarray:
    return np.random.default_rng(1).permutation(np.arange(n) % n_classes)


def label_entropy_bits(labels: np.ndarray) -> float:
    p = np.bincount(labels) / len(labels)
    return float(-(p * np.log2(p)).sum())


def separable_layer(labels: np.ndarray) -> np.ndarray:
    """Class k sits around 8 e_k: linearly separable with a wide margin."""
    rng = np.random.default_rng(2)
    return 8.0 * np.eye(labels.max() + 1)[labels] + 0.1 * rng.normal(size=(len(labels), labels.max() + 1))


def useless_layer(labels: np.ndarray) -> np.ndarray:
    return np.random.default_rng(3).normal(size=(len(labels), 5))


def score(values: np.ndarray, labels: np.ndarray):
    split = probe_split(labels, 0.3, 0, 500)
    return LayerProbe(split, labels, int(labels.max()) + 1, l2_c=10.0, max_iter=200).score(values)


def test_separable_layer_gives_accuracy_one_and_usable_information_near_label_entropy():
    labels = balanced_labels()
    result = score(separable_layer(labels), labels)
    assert result.accuracy == 1.0
    assert result.usable_bits == pytest.approx(label_entropy_bits(labels), abs=0.05)  # H(Y) = 2 bits


def test_layer_independent_of_labels_gives_chance_accuracy_and_about_zero_bits():
    labels = balanced_labels()
    result = score(useless_layer(labels), labels)
    assert result.accuracy == pytest.approx(0.25, abs=0.05)  # chance with 4 balanced classes
    assert result.usable_bits == pytest.approx(0.0, abs=0.03)


def test_class_separation_is_high_for_tight_clusters_and_near_zero_for_noise():
    labels = balanced_labels(800)
    assert class_separation(separable_layer(labels), labels) > 0.9
    assert abs(class_separation(useless_layer(labels), labels)) < 0.05


def test_probe_layers_labels_epoch_and_layer_and_marks_the_earliest_layer_reaching_the_output():
    labels = balanced_labels(600)
    layers = {"hidden1": useless_layer(labels), "hidden2": separable_layer(labels), "output": separable_layer(labels)}
    split = probe_split(labels, 0.3, 0, 200)
    probes = probe_layers(lambda layer, row: layers[layer], list(layers), [0, 10], labels, split, 10.0, 200)
    assert probes["probe_accuracy"].dims == ("epoch", "layer")
    assert probes["usable_information"].attrs["units"] == "bit"
    assert probes.epoch.values.tolist() == [0, 10]
    assert earliest_layer_reaching_output(probes["probe_accuracy"], "output") == "hidden2"


def test_spread_positions_keeps_first_and_last():
    assert spread_positions(10, 0).tolist() == list(range(10))
    assert spread_positions(101, 3).tolist() == [0, 50, 100]


def test_sequence_epochs_resolves_first_peak_last_and_numbers_in_training_order():
    measured = [0, 1, 5, 20, 100]
    information = np.array([3.0, 5.0, 9.0, 7.0, 6.0])
    assert sequence_epochs(["last", "first", "peak"], measured, information) == [
        ("first", 0),
        ("peak", 5),
        ("last", 100),
    ]
    assert sequence_epochs([18], measured, None) == [("epoch 20", 20)]


def test_tsne_maps_are_deterministic_for_a_seed_and_differ_for_another():
    rng = np.random.default_rng(0)
    rows = seeded_rows(1000, 120, seed=4)
    assert np.array_equal(rows, seeded_rows(1000, 120, seed=4))
    maps = [rng.normal(size=(1000, 6))[rows], rng.normal(size=(1000, 6))[rows]]
    settings = {"perplexity": 10.0, "n_iter": 50, "n_iter_next": 30, "seed": 7}
    first, again = embed_sequence(maps, **settings), embed_sequence(maps, **settings)
    assert first.shape == (2, 120, 2)
    assert np.array_equal(first, again)
    assert not np.allclose(first, embed_sequence(maps, **{**settings, "seed": 8}))


def test_tsne_sequence_starts_each_map_from_the_previous_one():
    """Unrelated data at the second epoch: after one step the map is still the first map (rescaled);
    a fresh embedding of the same data is unrelated to the first map."""
    rng = np.random.default_rng(5)
    before, after = rng.normal(size=(150, 4)), rng.normal(size=(150, 4))
    maps = embed_sequence([before, after], perplexity=10.0, n_iter=100, n_iter_next=1, seed=0)
    fresh = embed_sequence([after], perplexity=10.0, n_iter=100, seed=0)[0]
    assert np.corrcoef(maps[0][:, 0], maps[1][:, 0])[0, 1] > 0.8
    assert abs(np.corrcoef(maps[0][:, 0], fresh[:, 0])[0, 1]) < 0.3
