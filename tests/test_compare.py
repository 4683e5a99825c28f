"""Comparing runs: compression statistics, the permutation test, epoch alignment, the IB Lagrangian, DVC plot rows."""

import json
import math

import numpy as np
import pytest
import xarray as xr

from ibpipe.infoplane.compare import (
    Run,
    compare_dataset,
    compression_table,
    differing_params,
    flatten_params,
    permutation_test,
    table_markdown,
)
from ibpipe.infoplane.compression import compression_statistics
from ibpipe.infoplane.lagrangian import ib_lagrangian
from ibpipe.infoplane.plot_data import information_rows


def _metrics(epochs, ixt, ity=None, layers=("h1", "h2"), extra=None) -> xr.Dataset:
    """A metrics-like Dataset: (epoch, layer, estimator[, trial]) informations in bits."""
    ixt = np.asarray(ixt, dtype=float)
    ity = np.full_like(ixt, 0.5) if ity is None else np.asarray(ity, dtype=float)
    dims = ("epoch", "layer", "estimator", *(extra or {}))
    coords = {"epoch": list(epochs), "layer": list(layers), "estimator": ["plugin"], **(extra or {})}
    data = {name: (dims, values, {"units": "bit"}) for name, values in (("I_XT", ixt), ("I_TY", ity))}
    return xr.Dataset(data, coords=coords, attrs={"H_X": 12.0, "H_Y": 1.0, "params": "{}"})


def test_compression_statistics_find_peak_its_epoch_and_last_finite_value():
    curve = xr.DataArray([1.0, 4.0, 3.0, 2.0, np.nan], dims="epoch", coords={"epoch": [0, 2, 5, 9, 12]})
    stats = compression_statistics(curve)
    assert float(stats.peak_I_XT) == 4.0 and int(stats.peak_epoch) == 2
    # epoch 12 was not measured (NaN): the final value is the one of epoch 9
    assert float(stats.final_I_XT) == 2.0 and float(stats.final_to_peak) == pytest.approx(0.5)


def test_compression_statistics_of_an_unmeasured_curve_are_nan():
    stats = compression_statistics(xr.DataArray([np.nan, np.nan], dims="epoch", coords={"epoch": [0, 1]}))
    assert math.isnan(float(stats.peak_I_XT)) and math.isnan(float(stats.final_to_peak))


def test_permutation_test_is_exact_on_small_samples():
    # pooled 0,1,2,3: of the 6 splits into pairs, 2 differ in mean by >= 2 (the observed one and its mirror)
    assert permutation_test([0.0, 1.0], [2.0, 3.0]) == pytest.approx(2 / 6)
    assert permutation_test([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == 1.0


def test_permutation_test_separates_distinct_groups_and_refuses_one_trial():
    rng = np.random.default_rng(0)
    assert permutation_test(rng.normal(0, 0.1, 12), rng.normal(1, 0.1, 12)) < 0.001  # sampled splits
    assert math.isnan(permutation_test([0.4], [0.9]))


def test_runs_measured_at_different_epochs_align_on_the_union_with_nan():
    first = Run("tanh", _metrics([0, 1, 2, 4], np.arange(8.0).reshape(4, 2, 1)), {"model.activation": "tanh"})
    second = Run("relu", _metrics([0, 3, 4], np.ones((3, 2, 1))), {"model.activation": "relu", "train.seed": 0})
    compared = compare_dataset([first, second])
    assert compared.I_XT.dims == ("run", "epoch", "layer", "estimator")
    assert compared.epoch.values.tolist() == [0, 1, 2, 3, 4]
    assert np.isnan(compared.I_XT.sel(run="relu", epoch=1)).all()
    assert np.isnan(compared.I_XT.sel(run="tanh", epoch=3)).all()
    assert float(compared.I_XT.sel(run="tanh", epoch=4, layer="h2", estimator="plugin")) == 7.0
    assert compared["model.activation"].values.tolist() == ["tanh", "relu"]
    assert compared["train.seed"].values.tolist() == ["null", "0"]  # missing in one run: stored as text
    assert compared.H_X.values.tolist() == [12.0, 12.0]


def test_only_params_that_differ_become_coordinates():
    runs = [
        Run(
            "a", xr.Dataset(), flatten_params({"model": {"widths": [3, 2], "activation": "tanh"}, "train": {"seed": 0}})
        ),
        Run(
            "b", xr.Dataset(), flatten_params({"model": {"widths": [3, 2], "activation": "relu"}, "train": {"seed": 0}})
        ),
    ]
    assert differing_params(runs) == {"model.activation": ["tanh", "relu"]}


def test_compression_table_tests_final_to_peak_over_trials():
    epochs = [0, 1, 2]
    # trials of run a end at half their peak, those of run b at their peak (epoch, layer, estimator, trial)
    trials = {"trial": [0, 1]}
    shape = (1, 2, 1, 2)
    a = _metrics(epochs, np.array([2.0, 4.0, 2.0])[:, None, None, None] * np.ones(shape), extra=trials)
    b = _metrics(epochs, np.array([1.0, 2.0, 2.0])[:, None, None, None] * np.ones(shape), extra=trials)
    a["I_XT"] = a.I_XT + xr.DataArray([0.0, 0.01], dims="trial", coords=trials)
    compared = compare_dataset([Run("a", a, {}), Run("b", b, {})])
    rows = {(row["run"], row["layer"]): row for row in compression_table(compared, "plugin")}
    assert rows[("a", "h1")]["final_to_peak"] == pytest.approx(np.mean([2 / 4, 2.01 / 4.01]))
    assert rows[("a", "h1")]["peak_epoch"] == 1 and rows[("a", "h1")]["trials"] == 2
    assert rows[("b", "h1")]["final_to_peak"] == pytest.approx(1.0)
    # 2 + 2 trials: 6 splits, the observed one and its mirror are the most extreme
    assert rows[("b", "h1")]["p_vs_first"] == pytest.approx(2 / 6)
    assert math.isnan(rows[("a", "h1")]["p_vs_first"])
    assert "| b | h1 | 2 |" in table_markdown(list(rows.values()), "plugin", "a")
    # run b's two trials both end at their peak: the interval [1, 1]; run a's t-interval clipped to [0, 1]
    assert (rows[("b", "h1")]["final_to_peak_low"], rows[("b", "h1")]["final_to_peak_high"]) == (1.0, 1.0)
    assert 0.0 <= rows[("a", "h1")]["final_to_peak_low"] < rows[("a", "h1")]["final_to_peak"]


def test_ib_lagrangian_on_known_values():
    metrics = _metrics([0, 1], [[[3.0], [2.0]], [[5.0], [1.0]]], ity=[[[1.0], [0.5]], [[2.0], [0.0]]])
    lagrangian = ib_lagrangian(metrics, [0.0, 1.0, 2.0]).sel(estimator="plugin")
    assert lagrangian.dims == ("beta", "epoch", "layer")
    assert lagrangian.sel(beta=0.0).values.tolist() == [[3.0, 2.0], [5.0, 1.0]]  # beta 0: I(X;T) alone
    assert lagrangian.sel(beta=1.0, epoch=1, layer="h1").item() == 3.0  # 5 - 1 x 2
    assert lagrangian.sel(beta=2.0, epoch=0, layer="h2").item() == 1.0  # 2 - 2 x 0.5
    assert lagrangian.attrs["units"] == "bit"


def test_dvc_plot_rows_are_trial_means_with_other_dims_in_the_label():
    values = np.zeros((2, 1, 1, 2, 2))  # epoch, layer, estimator, trial, split
    values[..., 0, :] = 1.0
    values[..., 1, :] = 3.0
    values[1, ..., 1] = np.nan  # split test not measured at epoch 1: row left out
    metrics = _metrics([0, 1], values, ity=values, layers=("h1",), extra={"trial": [0, 1], "split": ["train", "test"]})
    rows = information_rows(metrics, "plugin")
    assert {row["layer"] for row in rows} == {"h1 split=train", "h1 split=test"}
    assert len(rows) == 3 and all(row["I_XT"] == 2.0 for row in rows)
    plain = information_rows(_metrics([0, 5], np.ones((2, 2, 1))), "plugin")
    assert plain[0] == {"epoch": 0, "layer": "h1", "I_XT": 1.0, "I_TY": 0.5}


def test_training_log_holds_the_last_epoch_and_one_row_per_epoch(tmp_path):
    from ibpipe.training_log import write_training_log

    epochs = np.arange(4)
    history = xr.Dataset(
        {name: ("epoch", epochs / 10 + shift) for shift, name in enumerate(["train_loss", "test_accuracy"])},
        coords={"epoch": epochs},
    )
    write_training_log(tmp_path / "training", history)
    # the DVC metric keeps the last test accuracy alone (one column of `dvc metrics show`); every curve is a plot
    summary = json.loads((tmp_path / "training" / "metrics.json").read_text())
    assert summary == {"test": {"accuracy": pytest.approx(1.3)}}
    rows = (tmp_path / "training" / "plots" / "metrics" / "test" / "accuracy.tsv").read_text().splitlines()
    assert rows[0] == "step\taccuracy" and [int(row.split("\t")[0]) for row in rows[1:]] == [0, 1, 2, 3]
    loss = (tmp_path / "training" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert loss[-1] == "3\t0.3"


def test_training_log_works_in_a_git_repository_without_commits(tmp_path, monkeypatch):
    import subprocess

    from ibpipe.training_log import write_training_log

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    history = xr.Dataset({"test_accuracy": ("epoch", [0.5, 0.75])}, coords={"epoch": [0, 1]})
    write_training_log("reports/training", history)
    assert json.loads((tmp_path / "reports/training/metrics.json").read_text())["test"]["accuracy"] == 0.75


def test_compare_of_a_run_that_cannot_be_read_exits_2_naming_it(tmp_path):
    from typer.testing import CliRunner

    from ibpipe.cli import app

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")  # a project, so the unknown run is what fails

    result = CliRunner().invoke(
        app, ["compare", "no-such-run", "--out", str(tmp_path / "out"), "--repo", str(tmp_path)]
    )
    assert result.exit_code == 2 and "no-such-run" in result.output
    assert not (tmp_path / "out").exists()
