import numpy as np
import pytest

from ibpipe.estimators.binning import (
    data_range,
    distinct_input_ids,
    equal_mass_codes,
    fixed_size_codes,
    fixed_width_codes,
    pool_activations,
    quantile_edges,
    quantile_range_codes,
)
from ibpipe.infoplane.selection import epoch_schedule, every_nth_epoch, log_spaced_epochs


def test_fixed_width_codes_are_the_left_edge_index_of_tishby_bins(rng):
    values = rng.uniform(-0.999, 0.999, (1000, 5))
    edges = np.linspace(-1, 1, 30)
    codes = fixed_width_codes(values, 30, (-1.0, 1.0))
    assert np.array_equal(edges[codes - 1], edges[np.digitize(values, edges) - 1])
    assert np.all(edges[codes - 1] <= values) and np.all(values < edges[codes])


def test_fixed_width_codes_equal_digitize_even_on_and_next_to_every_edge(rng):
    for n_bins, (low, high) in ((30, (-1.0, 1.0)), (7, (0.0, 3.7)), (100, (-2.5, 7.1))):
        edges = np.linspace(low, high, n_bins)
        values = np.concatenate(
            [edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf), rng.uniform(low - 1, high + 1, 10000)]
        )
        assert np.array_equal(fixed_width_codes(values, n_bins, (low, high)), np.digitize(values, edges))
    saturated = np.tanh(rng.normal(scale=8, size=5000)).astype(np.float32)
    assert np.array_equal(fixed_width_codes(saturated, 30, (-1.0, 1.0)), np.digitize(saturated, np.linspace(-1, 1, 30)))


def test_fixed_width_codes_keep_out_of_range_values_in_their_own_end_bins():
    codes = fixed_width_codes(np.array([-5.0, -1.0, 0.99, 1.0, 7.0]), 30, (-1.0, 1.0))
    assert codes.tolist() == [0, 1, 29, 30, 30]


def test_fixed_size_codes_are_saxe_floor():
    values = np.array([-0.15, -0.07, 0.0, 0.069, 0.07, 3.51])
    assert fixed_size_codes(values, 0.07).tolist() == [-3, -1, 0, 0, 1, 50]


def test_data_range_widens_a_constant_layer_and_has_a_placeholder_without_finite_values():
    assert data_range(4.0, 4.0) == (4.0, 5.0)
    assert data_range(np.inf, -np.inf) == (0.0, 1.0)


def test_distinct_input_ids_group_exact_duplicates():
    inputs = np.array([[0, 1], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
    ids = distinct_input_ids(inputs)
    assert ids[0] == ids[2] and len(set(ids.tolist())) == 3


def test_log_schedule_matches_its_definition_and_keeps_both_ends():
    epochs = log_spaced_epochs(8000, 400)
    assert len(epochs) == 274
    assert epochs[0] == 0 and epochs[-1] == 8000
    reference = np.unique(np.floor(np.logspace(0, np.log2(8001), 400, base=2) + 1e-9).astype(int)) - 1
    assert np.array_equal(epochs, reference)
    assert np.all(np.diff(epochs) > 0)


def test_every_schedule_includes_the_last_epoch():
    assert every_nth_epoch(10, 4).tolist() == [0, 4, 8, 10]
    assert epoch_schedule("all", 3).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"unknown select\.method"):
        epoch_schedule("delta", 10)


def test_quantile_range_codes_put_n_equal_bins_between_the_unit_quantiles(rng):
    values = rng.normal(size=(10000, 2)) * np.array([1.0, 10.0])
    ranges = quantile_edges(values, 0.01, 0.99)
    assert ranges.shape == (2, 2)
    assert ranges[1, 1] / ranges[0, 1] == pytest.approx(-1, abs=0.05)
    assert ranges[1, 1] / ranges[1, 0] == pytest.approx(10, rel=0.05)
    codes = quantile_range_codes(values, 10, ranges)
    assert codes.min() == 0 and codes.max() == 11
    # 1% of the values fall below the low quantile and 1% above the high one, per unit.
    assert np.mean(codes[:, 1] == 0) == pytest.approx(0.01, abs=0.002)
    assert np.mean(codes[:, 1] == 11) == pytest.approx(0.01, abs=0.002)
    # Per-unit ranges make the codes scale-free (a power of two scales floats exactly).
    scaled = values * 4.0
    assert np.array_equal(quantile_range_codes(scaled, 10, quantile_edges(scaled, 0.01, 0.99)), codes)


def test_equal_mass_codes_fill_every_bin_equally_and_keep_ties_together(rng):
    values = rng.normal(size=(1000, 3))
    codes = equal_mass_codes(values, 4)
    for unit in range(3):
        assert np.bincount(codes[:, unit]).tolist() == [250, 250, 250, 250]
    saturated = np.concatenate([np.ones(600), rng.uniform(-1, 0.9, 400)])[:, None]
    tied = equal_mass_codes(saturated, 4)
    assert len(np.unique(tied[:600])) == 1


@pytest.mark.parametrize(
    ("window", "kind"),
    [((1, 4, 4), "max"), ((2, 4, 4), "max"), ((4, 3, 3), "avg"), ((1, 7, 7), "avg"), ((1, 7, 7), "max")],
)
def test_pooling_matches_torch_pool3d_shapes_and_values(rng, window, kind):
    import torch

    values = rng.normal(size=(3, 16, 14, 14)).astype(np.float32)
    pooled = pool_activations(values, window, kind)
    layer = torch.nn.MaxPool3d(window) if kind == "max" else torch.nn.AvgPool3d(window)
    expected = layer(torch.from_numpy(values)[:, None])[:, 0].numpy()
    assert pooled.shape == expected.shape
    assert np.allclose(pooled, expected, atol=1e-6)


def test_pooling_rejects_windows_that_do_not_fit(rng):
    with pytest.raises(ValueError, match="does not fit"):
        pool_activations(rng.normal(size=(2, 4, 6, 6)), (8, 2, 2))
    with pytest.raises(ValueError, match="not one of"):
        pool_activations(rng.normal(size=(2, 4, 6, 6)), (1, 2, 2), "median")
