"""One NaN/inf policy: non-finite activations never crash a binning, never collapse a unit, and make the
(epoch, layer) cell NaN with one warning naming it; delta-skip bisects a NaN gap."""

import warnings

import numpy as np
import pytest

from ibpipe.estimators.api import information
from ibpipe.estimators.binning import (
    equal_mass_codes,
    fixed_size_codes,
    fixed_width_codes,
    quantile_range_codes,
)
from ibpipe.infoplane.measure import slab_information
from ibpipe.infoplane.reduce import LayerReducer, LayerReduction, code_layer
from ibpipe.infoplane.selection import delta_skip_exact
from ibpipe.infoplane.tasks import EstimateCell, combine_cells, labelled, warn_about_cells

ACTIVATIONS = np.array([[0.2, np.nan], [-0.5, np.inf], [0.9, -np.inf], [0.1, 0.3]])


def test_fixed_width_bins_give_non_finite_values_their_own_code_instead_of_an_index_error():
    # Old code: IndexError "index -2147483647 is out of bounds".
    codes = fixed_width_codes(ACTIVATIONS, 30, (-1.0, 1.0))
    assert codes[:, 0].tolist() == fixed_width_codes(ACTIVATIONS[:, :1], 30, (-1.0, 1.0))[:, 0].tolist()
    assert codes[:3, 1].tolist() == [31, 31, 31] and 0 <= codes[3, 1] <= 30


def test_fixed_size_bins_keep_non_finite_values_apart_from_the_finite_codes():
    # Old code: NaN and inf cast to int32 min, a silent code far outside the others.
    codes = fixed_size_codes(ACTIVATIONS, 0.07)
    finite = np.isfinite(ACTIVATIONS)
    assert codes[finite].tolist() == np.floor(ACTIVATIONS[finite] / 0.07).astype(int).tolist()
    assert set(codes[~finite].tolist()) == {codes[finite].max() + 1}


def test_fixed_size_bins_refuse_codes_that_overflow_int32():
    with pytest.raises(ValueError, match="overflow int32"):
        fixed_size_codes(np.array([[1e12]]), 0.07)


def test_one_nan_does_not_turn_a_quantile_unit_into_one_code():
    # Old code: the NaN made every quantile edge NaN and the whole unit code 0.
    values = np.linspace(-1, 1, 200)[:, None]
    values[17] = np.nan
    reducer = LayerReducer(LayerReduction("quantile-pooled", n_bins=4, q_low=0.0, q_high=1.0), (1,)).fit([values], 200)
    codes = reducer.transform(values)[:, 0]
    finite = np.isfinite(values[:, 0])
    assert sorted(set(codes[finite].tolist())) == [1, 2, 3, 4, 5]
    assert codes[17] == 6  # the reserved code, one past the top end bin
    assert np.array_equal(quantile_range_codes(values, 4, reducer.unit_ranges_), reducer.transform(values))


def test_equal_mass_edges_come_from_the_finite_values():
    values = np.r_[np.arange(100.0), np.nan][:, None]
    codes = equal_mass_codes(values, 4)[:, 0]
    assert np.bincount(codes[:100]).tolist() == [25, 25, 25, 25] and codes[100] == 4


@pytest.mark.parametrize("method", ["fixed-width", "quantile", "quantile-pooled", "equal-mass", "ebab", "fixed-size"])
def test_code_layer_counts_non_finite_activations_per_epoch(method):
    values = np.random.default_rng(0).uniform(-1, 1, size=(3, 50, 4))
    values[1, 7, 2], values[1, 9, 0], values[2, 0, 3] = np.nan, np.inf, -np.inf
    value_range = "data" if method == "fixed-width" else (-1.0, 1.0)
    reducer = LayerReducer(LayerReduction(method, n_bins=5, value_range=value_range), (4,))
    out = np.empty((3, 50, 4), dtype=np.int32)

    def write(epochs, samples, codes):
        out[epochs, samples] = codes

    coded = code_layer(reducer, [slice(0, 2), slice(2, 3)], lambda e: [(slice(None), values[e])], write, 50)
    assert coded.nonfinite.tolist() == [0, 2, 1]
    assert np.array_equal(coded.high, out.max(axis=(0, 1))) and out.min() >= -50  # no int32-min codes


def test_a_non_finite_epoch_is_nan_and_the_others_are_measured(estimate_params):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 64)
    activations = rng.uniform(-1, 1, size=(3, 64, 2))
    activations[1, 5, 1] = np.nan
    codes = rng.integers(0, 4, size=(3, 64, 1))
    measured = slab_information(estimate_params("plugin", "kde-upper"), labels, np.arange(64), codes, activations)
    assert measured.nonfinite.values.tolist() == [False, True, False]
    assert np.isnan(measured.I_XT[1]).all() and np.isfinite(measured.I_XT[[0, 2]]).all()
    from_counts = slab_information(estimate_params("plugin"), labels, np.arange(64), codes, nonfinite=[0, 0, 3])
    assert np.isnan(from_counts.H_T[2]).all() and np.isfinite(from_counts.H_T[:2]).all()


def test_each_non_finite_cell_gets_one_warning_naming_epoch_and_layer(estimate_params):
    rng = np.random.default_rng(2)
    labels, codes = rng.integers(0, 2, 40), rng.integers(0, 3, size=(2, 40, 1))
    options, widths = estimate_params("plugin"), {"layer_width": {"h1": 1, "h2": 1}}
    parts = [
        labelled(
            slab_information(options, labels, np.arange(40), codes, nonfinite=counts),
            EstimateCell(layer, layer, 0, 2, None, None, 0),
            np.array([0, 100]),
            widths,
        )
        for layer, counts in (("h1", [0, 0]), ("h2", [0, 5]))
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_about_cells(combine_cells(parts))
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 1 and "epoch 100" in messages[0] and "'h2'" in messages[0]


@pytest.mark.parametrize("estimator", ["plugin", "kde-upper", "knn"])
def test_information_of_non_finite_activations_is_nan_with_one_warning(estimator):
    # Old code: IndexError for binned estimators, LinAlgError/ValueError deep inside the KDE and k-NN.
    t = np.random.default_rng(3).uniform(-1, 1, size=(30, 2))
    t[4, 1] = np.inf
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = information(t, np.arange(30) % 2, estimator, n_bins=None if estimator != "plugin" else 30)
    assert all(np.isnan(values[quantity]) for quantity in ("H_T", "I_XT", "I_TY"))
    assert len(caught) == 1 and "NaN or inf" in str(caught[0].message)


def test_delta_skip_bisects_the_gap_to_a_diverged_epoch():
    # Old code: the NaN distance compared as "not > delta", so the gap before the divergence at
    # epoch 37 was never bisected (measured epochs [0, 1, 3, 7, 15, 31, 63, 100]).
    def probe(epochs):
        return {e: np.full((2, 2), np.nan if e >= 37 else 1.0) for e in epochs}

    result = delta_skip_exact(100, probe, (1.0, 1.0), delta=0.1)
    assert {36, 37} <= set(result["epochs"])
    assert len(result["probed"]) < 20  # the diverged epochs after 37 are not all measured


def test_a_diverged_epoch_in_the_stores_becomes_a_nan_cell(tmp_path, estimate_params):
    import zarr

    from ibpipe.infoplane.tasks import EstimateCell, stored_slab_information
    from ibpipe.io.arrays import write_array
    from ibpipe.io.layers import LayerStoreWriter

    rng = np.random.default_rng(6)
    values = rng.uniform(-1, 1, size=(3, 30, 2)).astype(np.float32)
    values[2, 4, 0] = np.nan  # the network diverged at the third measured epoch
    activations = zarr.open_group(tmp_path / "activations.zarr", mode="w")
    writer = LayerStoreWriter(
        activations,
        "activation",
        shapes={"h": (2,)},
        epochs=np.array([0, 5, 9]),
        n_samples=30,
        epochs_per_shard=16,
        dtype="float32",
    )
    writer.write(slice(0, 3), {"h": values})
    codes = zarr.open_group(tmp_path / "codes.zarr", mode="w")
    code_writer = LayerStoreWriter(
        codes, "code", shapes={"h": (2,)}, epochs=np.array([0, 5, 9]), n_samples=30, epochs_per_shard=16, dtype="int32"
    )
    reducer = LayerReducer(LayerReduction("fixed-width", value_range="data"), (2,))
    coded = code_layer(
        reducer, [slice(0, 3)], lambda e: [(slice(None), values[e])], lambda e, s, c: code_writer.write(e, {"h": c}), 30
    )
    for name, array in (("code_low", coded.low), ("code_high", coded.high), ("nonfinite", coded.nonfinite)):
        write_array(codes["h"], name, array, ("unit",) if name != "nonfinite" else ("epoch",))
    measured = stored_slab_information(
        EstimateCell("h", "h", 0, 3, None, None, 0),
        codes_path=str(tmp_path / "codes.zarr"),
        activations_path=str(tmp_path / "activations.zarr"),
        labels=np.arange(30) % 2,
        x_ids=np.arange(30),
        params=estimate_params("plugin", "kde-upper"),
    )
    assert measured.nonfinite.values.tolist() == [False, False, True]
    assert np.isnan(measured.H_T[2]).all() and np.isfinite(measured.H_T[:2]).all()
