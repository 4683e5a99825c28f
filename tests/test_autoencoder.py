"""Autoencoder entropy curves: training, the curve Dataset, and the bend at a known dimension."""

import numpy as np
import pytest

from ibpipe.ae_entropy.autoencoder import encode, encode_batched, train_autoencoder, train_autoencoders
from ibpipe.ae_entropy.curves import curve_dataset, entropy_curves
from ibpipe.ae_entropy.params import AutoencoderSettings, CodeMeasureSettings
from ibpipe.ae_entropy.points import prepare_points
from ibpipe.data.manifolds import make_manifold

# Settings that train the 20-dimensional linear data in a few seconds per code size.
FAST = AutoencoderSettings(widths=[32, 16], batch_size=800, learning_rate=1.0e-2, patience=15, max_epochs=300)


def test_prepare_points_merges_duplicates_subsamples_and_standardises():
    points = np.repeat(np.arange(30, dtype=float).reshape(10, 3), 2, axis=0)
    prepared = prepare_points(points, max_rows=6, seed=0)
    assert prepared.shape == (6, 3)
    assert np.allclose(prepared.mean(axis=0), 0) and np.allclose(prepared.std(axis=0), 1)
    assert prepare_points(points, max_rows=100, seed=0).shape == (10, 3)


def test_training_is_seeded_and_stops_early():
    points = prepare_points(make_manifold("linear", 400, 6, intrinsic_dim=2, seed=3)[0], 400, 0)
    settings = AutoencoderSettings(widths=[8], batch_size=100, learning_rate=1.0e-2, patience=5, max_epochs=400)
    first = train_autoencoder(points, 2, settings)
    again = train_autoencoder(points, 2, settings)
    assert first[1] == again[1] and first[2] == again[2]
    assert first[2] < 400 and first[1] < 0.05  # a 2-dim linear manifold reconstructs through 2 codes
    codes = encode(first[0], points)
    assert codes.shape == (400, 2)


def test_batched_training_trains_each_network_as_its_single_run():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(120, 2)) @ rng.normal(size=(2, 5)) + 0.05 * rng.normal(size=(120, 5))
    settings = AutoencoderSettings(widths=[8, 4], batch_size=40, learning_rate=1.0e-2, patience=4, max_epochs=300)
    code_dims, seeds = [1, 3, 2], [1, 3, 1002]
    model, best, epochs = train_autoencoders(points, code_dims, seeds, settings)
    assert len(set(epochs.tolist())) > 1, "networks must stop at different epochs for this test to cover it"
    for network, (code_dim, seed) in enumerate(zip(code_dims, seeds)):
        single, single_best, single_epochs = train_autoencoder(
            points, code_dim, settings.model_copy(update={"seed": seed})
        )
        assert epochs[network] == single_epochs
        assert best[network] == pytest.approx(single_best, rel=1e-4)
        # the codes of each network, its padding cut off: the single run's to float rounding
        np.testing.assert_allclose(encode_batched(model, points)[network], encode(single, points), atol=1e-4)


def test_curve_dataset_holds_the_contracted_variables_and_exact_bends():
    d = [1, 2, 3, 4, 5, 6]
    rising_then_flat = [1.0, 2.0, 3.0, 3.5, 4.0, 4.5]
    results = [
        {
            "mse": 10.0 ** -min(x, 3),
            "epochs": 10.0,
            "H_raw": y,
            "H_std": 2 * y,
            "I_noise": y + 1,
            "corrdim_codes": min(x, 3.0),
        }
        for x, y in zip(d, rising_then_flat)
    ]
    curves = curve_dataset(d, results, {"corrdim_data": 2.9, "nn_dim_data": 3.1, "true_dim": 3}, {"source": "test"})
    for name in ("mse", "H_raw", "H_std", "I_noise", "corrdim_codes"):
        assert curves[name].dims == ("d",)
    assert curves.H_raw.attrs["units"] == "nat"
    for name in ("bend_H_raw", "bend_H_std", "bend_I_noise", "mse_elbow"):
        assert curves.attrs[name] == pytest.approx(3.0, abs=1e-6)
    assert curves.attrs["corrdim_data"] == 2.9 and curves.attrs["source"] == "test"


@pytest.mark.slow
def test_standardised_and_noisy_mi_curves_bend_at_the_dimension_of_a_linear_manifold():
    from ibpipe.parallel import dask_client

    raw, true_dim = make_manifold("linear", 2000, 20, intrinsic_dim=5, noise=0.01, seed=0)
    points = prepare_points(raw, 2000, 0)
    with dask_client("local", 2) as client:
        curves = entropy_curves(points, 8, FAST, CodeMeasureSettings(), client, None)
    assert abs(curves.attrs["bend_H_std"] - true_dim) <= 1
    assert abs(curves.attrs["bend_I_noise"] - true_dim) <= 1
    # Five codes reconstruct the data; fewer cannot.
    assert curves.mse.sel(d=5) < 0.01 < curves.mse.sel(d=4)
    assert curves.corrdim_codes.sel(d=8) == pytest.approx(5, abs=0.8)
    assert curves.attrs["nn_dim_data"] == pytest.approx(5, abs=0.8)


def test_restarts_keep_the_best_held_out_mse_per_code_size_and_every_restart():
    measures = ("mse", "epochs", "H_raw", "H_std", "I_noise", "corrdim_codes")

    def run(mse, h):
        return {name: (mse if name == "mse" else h) for name in measures}

    results = [[run(0.5, 1.0), run(0.2, 2.0)], [run(0.1, 3.0), run(0.3, 4.0)], [run(np.nan, 5.0), run(0.05, 6.0)]]
    curves = curve_dataset([1, 2, 3], results, {"corrdim_data": 1.0, "nn_dim_data": 1.0}, {})
    assert curves.best_restart.values.tolist() == [1, 0, 1]
    assert curves.H_raw.values.tolist() == [2.0, 3.0, 6.0] and curves.H_raw.dims == ("d",)
    assert curves.H_raw_restarts.dims == ("d", "restart")
    assert curves.mse_restarts.values[1].tolist() == [0.1, 0.3]
