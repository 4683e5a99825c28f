"""Params edits on a copy of the built end-to-end project: `dvc repro` reruns only the stages that read them.

The tests run in order on one copy: each starts from the edits of the one before.
"""

from pathlib import Path

import pytest
import xarray as xr
import yaml
from test_pipeline import _edit_params, _repro, _run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(pipeline_project) -> Path:
    return pipeline_project


def test_params_edits_rerun_only_the_stages_that_read_them(project):
    assert _repro(project) == set()
    # The new selection first, so the reduce edit re-estimates 4 epochs instead of all 13.
    _edit_params(project, "select", method="every", every=5)
    # ae-points reads the activations (a recorded layer can be its source); its synthetic points come
    # out byte-identical, so the autoencoders do not train again.
    assert _repro(project) == {
        "select",
        "dump-activations",
        "reduce",
        "estimate",
        "plot",
        "ae-points",
        "probes",
        "plot-probes",
        "tsne",
        "describe",
    }
    # select reads the reduce settings too (delta-skip probes use them); its output is unchanged,
    # so the activations are not dumped again.
    _edit_params(project, "reduce", n_bins=12)
    # the t-SNE peak and the separation figure read the metrics; the probes themselves read only activations;
    # describe draws the coding's borders
    assert _repro(project) == {"select", "reduce", "estimate", "plot", "plot-probes", "tsne", "describe"}
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        assert metrics.epoch.values.tolist() == [0, 5, 10, 12]
    assert "up to date" in _run(project, "dvc", "status").stdout


def test_delta_skip_selection_reruns_from_select_on_never_training(project):
    _edit_params(project, "select", method="delta-exact", delta=0.05, workers=1)
    # Only select: the downstream reruns are the same as for any new selection (tested above).
    assert _repro(project, "select") == {"select"}
    selection = yaml.safe_load((project / "data" / "selection.json").read_text())
    epochs, distances = selection["epochs"], selection["distances"]
    assert epochs[0] == 0 and epochs[-1] == 12 and set(epochs) <= set(selection["probed"])
    assert all(d <= 0.05 or b - a == 1 for a, b, d in zip(epochs, epochs[1:], distances))
