"""Estimate variants on a copy of the built end-to-end project: a window, named reductions, a train/test split.

The tests run in order on one copy: each starts from the edits of the one before. After the first, they rerun
only up to the plot stage (the figures they check): which later stages a reduce edit reruns is
test_pipeline_edits.py's test, and the t-SNE, probe and describe stages would add ~15 s each time.
"""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from test_pipeline import _edit_params, _repro

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(pipeline_project) -> Path:
    return pipeline_project


def test_an_estimate_window_reruns_only_estimate_and_plot(project):
    _edit_params(project, "estimate", window=2, estimators=["plugin", "miller-madow"])
    assert _repro(project) == {"estimate", "plot", "plot-probes", "tsne"}
    selection = yaml.safe_load((project / "data" / "selection.json").read_text())
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        assert metrics.attrs["window"] == 2
        assert metrics.epoch.values.tolist() == selection["epochs"][1:]
        assert (metrics.I_XT <= metrics.H_T + 1e-9).all()


def test_named_reductions_land_in_one_dataset_with_a_reduction_dim(project):
    _edit_params(project, "reduce", reductions={"bins8": {"n_bins": 8}, "bins100": {"n_bins": 100}})
    assert _repro(project, "plot") == {"select", "reduce", "estimate", "plot"}
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        assert metrics.I_XT.dims == ("epoch", "layer", "estimator", "reduction", "trial")
        assert metrics.reduction.values.tolist() == ["bins8", "bins100"]
        coarse, fine = (metrics.n_states.sel(reduction=name, layer="hidden1") for name in ("bins8", "bins100"))
        assert float(coarse.mean()) < float(fine.mean())
    summary = yaml.safe_load((project / "reports" / "metrics.json").read_text())
    assert set(summary) == {"bins8", "bins100"} and set(summary["bins8"]) == {"hidden5"}
    figures = {p.name for p in (project / "reports" / "figures").iterdir()}
    assert {"information_plane_plugin_bins8.png", "information_plane_plugin_bins100.png"} <= figures
    _edit_params(project, "reduce", reductions={})


def test_train_and_test_rows_are_measured_in_one_run_with_a_split_dim(project):
    _edit_params(project, "dataset", measure_on=["train", "test"])
    assert _repro(project, "plot") == {"select", "dump-activations", "reduce", "estimate", "plot"}
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        assert metrics.split.values.tolist() == ["train", "test"]
        assert metrics.I_XT.dims[-2:] == ("split", "trial")
        # every input is distinct: H(X) is log2 of the rows of each split (3277 train, 819 test)
        np.testing.assert_allclose(metrics.H_X.values, np.log2([3277, 819]))
        plugin = metrics.sel(estimator="plugin")
        assert (plugin.I_XT <= metrics.H_X + 1e-9).all()
        assert float(plugin.I_XT.sel(split="test").max()) <= np.log2(819) + 1e-9
    figures = {p.name for p in (project / "reports" / "figures").iterdir()}
    assert {"information_plane_plugin_train.png", "information_plane_plugin_test.png"} <= figures
    _edit_params(project, "dataset", measure_on="all")
