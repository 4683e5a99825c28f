from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from ibpipe.cli import app

PROJECT = Path(__file__).resolve().parents[1]


def test_information_command_estimates_a_saved_layer(tmp_path):
    np.save(tmp_path / "t.npy", np.array([[0.1], [0.5], [-0.5], [-0.9]]))
    np.save(tmp_path / "y.npy", np.array([1, 1, 0, 0]))
    result = CliRunner().invoke(app, ["information", str(tmp_path / "t.npy"), str(tmp_path / "y.npy"), "--n-bins", "3"])
    assert result.exit_code == 0, result.output
    assert "I_TY = 1.000000 bits" in result.output
    unbinned = CliRunner().invoke(app, ["information", str(tmp_path / "t.npy"), str(tmp_path / "y.npy")])
    assert unbinned.exit_code == 2 and "binning option" in unbinned.output


def test_params_command_lists_every_key_and_rejects_bad_files(tmp_path):
    listed = CliRunner().invoke(app, ["params", str(PROJECT / "params.yaml")])
    assert listed.exit_code == 0
    assert "estimate.noise_variance" in listed.output and "model.activation" in listed.output
    bad = tmp_path / "params.yaml"
    bad.write_text("estimate:\n  workers: zero\n")
    rejected = CliRunner().invoke(app, ["params", str(bad)])
    assert rejected.exit_code == 2 and "estimate.workers = 'zero'" in rejected.output


def test_run_command_refuses_unknown_stages_before_calling_dvc():
    result = CliRunner().invoke(app, ["run", "trian"])
    assert result.exit_code == 2 and "unknown stage 'trian'" in result.output
