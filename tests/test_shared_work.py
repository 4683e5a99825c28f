"""Work shared between calls and layers gives the numbers the separate calls give."""

from __future__ import annotations

import numpy as np
import pytest

from ibpipe import information
from ibpipe.config.params import validate_params
from ibpipe.estimators import counting, kde
from ibpipe.estimators.plugin import layers_information
from ibpipe.infoplane.capping import MB, plan_pairwise
from ibpipe.infoplane.tasks import EPOCHS_PER_TASK, task_epochs

needs_numba = pytest.mark.skipif(not counting.HAVE_NUMBA, reason="numba is not installed")


@needs_numba
@pytest.mark.parametrize("binning", [{"bin_size": 2 / 29}, {"n_bins": 30, "value_range": (-1.0, 1.0)}])
@pytest.mark.parametrize("estimator", ["plugin", "miller-madow"])
def test_one_call_for_all_layers_equals_one_information_call_per_layer(rng, binning, estimator):
    labels = rng.integers(0, 3, 700)
    layers = [np.tanh(rng.normal(scale=1.5, size=(700, width)) + labels[:, None]) for width in (6, 3, 2, 1)]
    layers[1] = layers[1].astype(np.float32)
    together = layers_information(layers, labels, miller_madow=estimator == "miller-madow", **binning)
    for layer, found in zip(layers, together):
        alone = information(layer, labels, estimator, **binning)
        assert found["capped"] == alone["capped"]
        for quantity in ("H_T", "I_XT", "I_TY"):
            assert found[quantity] == pytest.approx(alone[quantity], abs=1e-12)


@needs_numba
def test_a_layer_with_nan_is_measured_alone_and_the_others_together(rng):
    labels = rng.integers(0, 2, 300)
    layers = [rng.normal(size=(300, 3)) for _ in range(3)]
    layers[1][5, 0] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN or inf"):
        together = layers_information(layers, labels, bin_size=0.5)
    assert np.isnan(together[1]["H_T"]) and np.isnan(together[1]["I_TY"])
    assert together[2]["H_T"] == pytest.approx(information(layers[2], labels, bin_size=0.5)["H_T"], abs=1e-12)


def test_the_second_kde_bound_reuses_the_first_calls_pass_and_new_data_does_not(rng, monkeypatch):
    passes = []
    original = kde._kde_bounds
    monkeypatch.setattr(kde, "_kde_bounds", lambda *args: passes.append(1) or original(*args))
    kde.clear_cache()
    points, labels = rng.normal(size=(200, 5)), rng.integers(0, 2, 200)
    upper = information(points, labels, "kde-upper", noise_variance=0.1)
    lower = information(points, labels, "kde-lower", noise_variance=0.1)
    assert len(passes) == 1
    both = kde.kde_information(points, labels, 0.1)
    assert upper["I_XT"] == both["upper"]["I_XT"] and lower["I_XT"] == both["lower"]["I_XT"]
    changed = points.copy()
    changed[7, 3] += 1e-9
    information(changed, labels, "kde-upper", noise_variance=0.1)
    information(points, labels, "kde-upper", noise_variance=0.2)
    information(points, 1 - labels, "kde-upper", noise_variance=0.2)
    assert len(passes) == 4


def test_distinct_rows_are_exact_when_rows_agree_on_every_keyed_column(rng):
    points = rng.normal(size=(50, 3 * kde.KEY_COLUMNS))
    points[10] = points[3]
    points[20] = points[3]
    points[20, 1] += 1.0  # column 1 is not among the keyed ones: same key, different row
    points[30] = points[4]
    first, index_of = kde.distinct_rows(points)
    _, expected_first = np.unique(points, axis=0, return_index=True)
    np.testing.assert_array_equal(first, np.sort(expected_first))
    np.testing.assert_array_equal(points[first][index_of], points)
    assert len(first) == 48 and index_of[10] == index_of[3] != index_of[20] and index_of[30] == index_of[4]


def test_tasks_take_as_many_epochs_as_a_workers_memory_allows():
    options = validate_params({}).estimate
    assert task_epochs(4096, {"a": 10, "b": 7}, options) == EPOCHS_PER_TASK
    widths = {"z1": 3136}
    epochs = task_epochs(5000, widths, options)
    assert 1 <= epochs < EPOCHS_PER_TASK
    assert plan_pairwise(5000, widths, options, epochs).peak_bytes <= options.memory_limit * MB
    assert plan_pairwise(5000, widths, options, 2 * epochs).peak_bytes > options.memory_limit * MB


@pytest.mark.parametrize("n_units", [5, 3 * kde.KEY_COLUMNS])
def test_kde_bounds_of_narrow_and_wide_layers_equal_the_full_distance_matrix(rng, n_units):
    labels = rng.integers(0, 3, 400)
    points = np.maximum(rng.normal(size=(400, n_units)) + labels[:, None], 0.0) * (0.6 / np.sqrt(n_units))
    points[50:60] = points[0]  # repeated rows: one mixture centre with a weight
    squared = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    kde.clear_cache()
    found = kde.kde_information(points, labels, 0.05)
    for bound, scale in (("upper", 2.0), ("lower", 8.0)):
        kernel = np.exp(-squared / (scale * 0.05))
        i_xt = -np.mean(np.log(kernel.mean(axis=1)))
        same_class = labels[:, None] == labels[None, :]
        within = (kernel * same_class).sum(axis=1) / same_class.sum(axis=1)
        i_ty = i_xt + np.mean(np.log(within))
        assert found[bound]["I_XT"] == pytest.approx(i_xt / np.log(2), rel=1e-10)
        assert found[bound]["I_TY"] == pytest.approx(i_ty / np.log(2), rel=1e-10, abs=1e-12)
