"""`python -m ibpipe summary` and the DVC metrics it starts from: small files, a terminal's width."""

import json
import re
import subprocess
import sys

import pytest
import xarray as xr
from typer.testing import CliRunner

from ibpipe.cli import app
from ibpipe.errors import MissingFileError
from ibpipe.pipeline import STAGES
from ibpipe.summary import METRIC_FILES, run_summary, table


def test_the_summary_reads_every_metrics_file_the_pipeline_declares():
    declared = {write.path for stage in STAGES for write in stage.outputs("metrics")}
    assert declared == set(METRIC_FILES)


def test_without_a_run_the_command_says_so_in_one_line(tmp_path):
    result = CliRunner().invoke(app, ["summary", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no run found in ") and "make repro" in lines[0]
    with pytest.raises(MissingFileError, match=r"reports/metrics\.json"):
        run_summary(tmp_path)


def test_the_metrics_files_alone_give_a_short_summary(tmp_path):
    """After a clone without `dvc pull` only the metrics kept in git are there: their numbers and codes."""
    files = {
        "reports/training/metrics.json": {"test": {"accuracy": 0.97192}},
        "reports/metrics.json": {"hidden5": {"final_to_peak": 0.4471, "verdict": "unclear"}},
        "reports/ae_entropy.json": {"bend_H_std": 2.903},
        "reports/compression.json": {"w2": {"verdict": "none"}},
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(json.dumps(content))
    text = run_summary(tmp_path)
    assert re.search(r"\n  test +0\.9719 +-\n", text)
    assert re.search(r"\n  hidden5 +0\.45 +unclear\n", text)
    assert re.search(r"\n  2\.90\n", text) and re.search(r"\n  W2 vs Euclidean +none\n", text)
    (tmp_path / "reports/metrics.json").write_text("{not json")
    with pytest.raises(MissingFileError, match="cannot be read as JSON"):
        run_summary(tmp_path)


def test_tables_align_their_columns_and_print_missing_values_as_a_dash():
    assert table(["layer", "I(X;T)"], [["hidden1", "12.000"], ["output", None]]) == [
        "  layer    I(X;T)",
        "  hidden1  12.000",
        "  output   -",
    ]


@pytest.mark.slow
def test_the_summary_of_a_run_gives_every_experiment_and_agrees_with_its_metrics(tiny):
    root, _ = tiny
    text = run_summary(root)
    metric = json.loads((root / "reports" / "metrics.json").read_text())
    assert list(metric) == ["hidden5"]
    with xr.open_dataset(root / "reports" / "metrics.nc") as metrics:
        layers = metrics.layer.values.tolist()
        ratio = float(metrics.final_to_peak.sel(layer="hidden5", estimator="plugin").mean("trial"))
    assert metric["hidden5"]["final_to_peak"] == pytest.approx(ratio, abs=1e-4)
    # one row per layer; hidden5's shows the metric's final/peak and verdict code (one trial: unclear)
    assert re.search(rf"\n  hidden5 .* {ratio:.2f} .* unclear\n", text)
    assert all(re.search(rf"\n  {layer} ", text) for layer in layers)
    for title in ("training: last epoch 5", "information plane: plugin estimator, epoch 5, 1 trial;"):
        assert title in text
    assert "autoencoder curves: " in text and "neuron space: iris" in text
    assert re.search(r"\n  W2 vs Euclidean +unclear -- undecided: 2 restarts", text)
    printed = subprocess.run(
        [sys.executable, "-m", "ibpipe", "summary", str(root)], capture_output=True, text=True, check=True
    )
    assert printed.stdout == text


@pytest.mark.slow
def test_dvc_metrics_show_fits_a_terminal(tiny):
    from test_pipeline import _run

    root, _ = tiny
    shown = _run(root, "dvc", "metrics", "show").stdout
    assert max(len(line) for line in shown.splitlines()) <= 120, shown
    header = shown.splitlines()[0].split()
    assert header == ["Path", "bend_H_std", "hidden5.final_to_peak", "hidden5.verdict", "test.accuracy", "w2.verdict"]


@pytest.mark.slow
def test_a_stage_run_through_a_pipe_writes_a_few_plain_lines(tiny, tmp_path):
    """As DVC runs it: stderr a pipe, so progress is one line per step (no carriage-return frames)."""
    from test_pipeline import _run

    root, _ = tiny
    result = _run(
        root, sys.executable, "stages/reduce.py", "--activations", "data/activations.zarr", "--out", str(tmp_path / "c")
    )
    output = result.stdout + result.stderr
    assert "\r" not in output
    assert output.splitlines() == [line for line in output.splitlines() if line.startswith("reduce ")]
    assert re.fullmatch(r"reduce trial0/: 6/6 layers done in \d+ s\nreduce done in \d+\.\d s\n", output)
