"""Two tiny DVC experiments measured at different epochs, compared with `python -m ibpipe compare`;
DVCLive's accuracy in `dvc exp show`, the information curves in `dvc plots diff`."""

import json
import shutil
import sys

import pytest
import xarray as xr
import yaml
from test_pipeline import _run

pytestmark = pytest.mark.slow
GIT = ("git", "-c", "user.name=ibpipe", "-c", "user.email=ibpipe@example.org")


@pytest.fixture(scope="module")
def experiments(tiny, tmp_path_factory):
    """A copy of the session's tiny project (5 epochs, tanh, every epoch measured), committed; two experiments.

    The first experiment is the commit's own run (nothing to rerun); the second trains a relu network and
    measures every 3rd epoch (0, 3 and the last, 5).
    """
    root = tmp_path_factory.mktemp("compare")
    shutil.copytree(tiny[0], root, symlinks=True, dirs_exist_ok=True)
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert (params["model"]["activation"], params["select"]["method"], params["train"]["epochs"]) == ("tanh", "all", 5)
    _run(root, "git", "add", "-A")
    _run(root, *GIT, "commit", "-q", "-m", "tiny project")
    common = ("dvc", "exp", "run", "plot")
    _run(root, *common, "-n", "tanh", "-S", "model.activation=tanh", "-S", "select.method=all")
    _run(
        root, *common, "-n", "relu", "-S", "model.activation=relu", "-S", "select.method=every", "-S", "select.every=3"
    )
    return root


def test_compare_aligns_two_experiments_on_the_union_of_their_epochs(experiments):
    _run(experiments, sys.executable, "-m", "ibpipe", "compare", "tanh", "relu", "--out", "cmp")
    with xr.open_dataset(experiments / "cmp" / "compare.nc") as compared:
        assert compared.run.values.tolist() == ["tanh", "relu"]
        # the runs' trial dim (one trial here; several in test_compare.py) is kept
        assert compared.I_XT.dims == ("run", "epoch", "layer", "estimator", "trial")
        assert compared.epoch.values.tolist() == list(range(6))
        relu = compared.I_XT.sel(run="relu", estimator="plugin", layer="hidden1").isel(trial=0)
        assert relu.notnull().values.tolist() == [e in (0, 3, 5) for e in range(6)]
        assert compared.I_XT.sel(run="tanh").notnull().all()
        assert compared["model.activation"].values.tolist() == ["tanh", "relu"]
        assert compared["select.method"].values.tolist() == ["all", "every"]
        assert "train.epochs" not in compared.coords  # the same in both runs
    figures = {path.name for path in (experiments / "cmp" / "figures").iterdir()}
    assert figures == {"information_planes.png", "I_XT_over_epochs.png", "I_TY_over_epochs.png"}
    table = (experiments / "cmp" / "compression.csv").read_text().splitlines()
    assert table[0].startswith("run,layer,trials,peak_I_XT") and len(table) == 1 + 2 * 6


def test_dvc_exp_show_lists_final_test_accuracy(experiments):
    shown = json.loads(_run(experiments, "dvc", "exp", "show", "--json").stdout)
    runs = {e["name"]: e["revs"][0]["data"] for base in shown for e in base.get("experiments") or []}
    accuracy = runs["relu"]["metrics"]["reports/training/metrics.json"]["data"]["test"]["accuracy"]
    assert 0.0 <= accuracy <= 1.0
    summary = runs["relu"]["metrics"]["reports/metrics.json"]["data"]
    assert set(summary) == {"hidden5"} and set(summary["hidden5"]) == {"final_to_peak", "verdict"}


def test_dvc_plots_diff_overlays_the_information_curves_of_two_experiments(experiments):
    output = json.loads(_run(experiments, "dvc", "plots", "diff", "tanh", "relu", "--json").stdout)
    rendered = output.get("data", output)  # beside "errors" for the image plots of stages not run here
    rows = [row for plot in rendered["I_XT_over_epochs"] for row in plot["content"]["data"]["values"]]
    assert {row["rev"] for row in rows} == {"tanh", "relu"}
    assert {row["epoch"] for row in rows if row["rev"] == "relu"} == {0, 3, 5}
