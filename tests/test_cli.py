from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from ibpipe.cli import app

PROJECT = Path(__file__).resolve().parents[1]


def test_information_command_estimates_a_saved_layer(tmp_path):
    np.save(tmp_path / "t.npy", np.array([[0.1], [0.5], [-0.5], [-0.9]]))
    np.save(tmp_path / "y.npy", np.array([1, 1, 0, 0]))
    result = CliRunner().invoke(
        app, ["infoplane", "information", str(tmp_path / "t.npy"), str(tmp_path / "y.npy"), "--n-bins", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "I_TY = 1.000000 bits" in result.output
    unbinned = CliRunner().invoke(app, ["infoplane", "information", str(tmp_path / "t.npy"), str(tmp_path / "y.npy")])
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


def test_ae_validation_writes_a_table_of_estimated_and_true_dimensions(tmp_path):
    import csv

    import yaml

    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["ae"].update(widths=[4], max_epochs=5, patience=2, scheduler="synchronous", max_pairs=2000)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "validation.md"
    result = CliRunner().invoke(
        app,
        [
            "ae",
            "validate",
            "--params-file",
            str(tmp_path / "params.yaml"),
            "--dmax",
            "3",
            "--n-samples",
            "150",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "validation.csv").open()))
    assert [(row["manifold"], row["true_dim"]) for row in rows] == [
        ("linear", "5"),
        ("swissroll", "2"),
        ("scurve", "2"),
        ("sphere", "3"),
    ]
    assert "| linear | 20 | 5 |" in out.read_text()
