"""A noisy network end to end: train, dump (pre-noise draws), reduce and estimate with sample propagation."""

import numpy as np
import pytest
import xarray as xr
from test_pipeline import _edit_params, _repro, new_project

pytestmark = pytest.mark.slow


def test_a_noisy_network_runs_end_to_end_with_sample_propagation(tmp_path):
    """Goldfeld et al.'s noisy net through train, dump (pre-noise draws), reduce and estimate: sample
    propagation on every hidden layer, NaN on the noiseless output, plug-in on the noisy T alongside."""
    root = new_project(tmp_path)
    _edit_params(root, "model", noise_std=0.1)
    _edit_params(root, "train", epochs=3, learning_rate=1.0e-2, trials=1)
    _edit_params(root, "select", method="all")
    _edit_params(root, "dump", noise_draws=4)
    _edit_params(root, "estimate", scheduler="synchronous", estimators=["plugin", "sample-propagation"], dimensions=[])
    assert _repro(root, "estimate") == {"train", "select", "dump-activations", "reduce", "estimate"}
    with xr.open_dataset(root / "reports" / "metrics.nc") as metrics:
        propagated = metrics.sel(estimator="sample-propagation", trial=0)
        hidden = propagated.drop_sel(layer="output")
        assert np.isfinite(hidden.I_XT).all() and np.isfinite(hidden.I_TY).all()
        # the raw sample-propagation values needed no clipping to [0, H(X)] and [0, H(Y)]
        assert int(metrics.capped.sel(estimator="sample-propagation").sum()) == 0
        assert np.isnan(propagated.I_XT.sel(layer="output")).all()
        # noise of std 0.1 on tanh units: the width-3 layer cannot keep all 12 bits of its 4096 inputs
        assert float(hidden.I_XT.sel(layer="hidden5").max()) < 11.0
