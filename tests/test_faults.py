"""Faults on a tiny pipeline: kill -9 mid-write, corrupt and truncated stores, forced reruns, diverged training.

Every check compares with an uninterrupted run of the same project: arrays of the Zarr
stores and data variables of the netCDF files must be bitwise identical.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr
from test_pipeline import _edit_params, _environment, _repro, _run
from tiny_pipeline import assert_bitwise_equal, stored_arrays, temporaries, tiny_project

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent
MAIN = ("train", "select", "dump-activations", "reduce", "estimate")


# The stages whose outputs stored_arrays compares (the stores and every .nc file): forcing them forces what
# they need too; the figure stages, whose PNGs are not compared, stay as they were.
COMPARED = ("estimate", "probes", "ae-entropy", "compress")


def test_a_forced_rerun_gives_bitwise_identical_stores_and_metrics(tiny):
    root, expected = tiny
    ran = _repro(root, "--force", "--no-run-cache", *COMPARED)
    # every compared file was written again
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    written = {out if isinstance(out, str) else next(iter(out)) for name in ran for out in pipeline[name]["outs"]}
    assert {re.match(r"(.*?\.(zarr|nc))/", name).group(1) for name in expected} <= written
    assert_bitwise_equal(stored_arrays(root), expected)
    assert "up to date" in _run(root, "dvc", "status").stdout


def _kill_while_writing(root: Path, stage: str, output: str, delay: float) -> bool:
    """Run ``stage`` under DVC, SIGKILL its process ``delay`` s after its temporary output appears.

    The stage's pid is read from the temporary's name (``.<output>.<pid>.<random>.tmp``).
    Returns whether the kill landed mid-write (False when the stage finished writing first).
    """
    target = root / output
    command = ("dvc", "repro", "--force", "--single-item", "--no-run-cache", stage)
    process = subprocess.Popen(
        command, cwd=root, env=_environment(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    killed = False
    while process.poll() is None and not killed:
        found = list(target.parent.glob(f".{target.name}.*.tmp"))
        if found:
            time.sleep(delay)
            try:
                os.kill(int(found[0].name[len(target.name) + 2 :].split(".")[0]), signal.SIGKILL)
                killed = True
            except ProcessLookupError:
                break
        time.sleep(0.002)
    output_text = process.communicate(timeout=120)[0].decode()
    assert (process.returncode != 0) == killed, output_text
    return killed and not target.exists()


@pytest.mark.parametrize(
    ("stage", "output", "longest_delay"),
    [
        ("train", "data/weights.zarr", 0.5),
        ("dump-activations", "data/activations.zarr", 0.3),
        # estimate writes one small netCDF file at its very end: a short window
        ("estimate", "reports/metrics.nc", 0.005),
    ],
)
def test_a_stage_killed_mid_write_reruns_to_bitwise_identical_outputs(tiny, stage, output, longest_delay):
    root, expected = tiny
    delays = [*np.random.default_rng(sum(map(ord, stage))).uniform(0, longest_delay, size=3).tolist(), 0.0]
    assert any(_kill_while_writing(root, stage, output, delay) for delay in delays), "every run finished first"
    assert not (root / output).exists()  # DVC removed the old output; the killed run left no finished one
    assert temporaries(root), "the killed writer's temporary should still be there"
    _forget_cached_outputs(root, stage)
    ran = _repro(root, "--no-run-cache")
    assert stage in ran and ran <= set(MAIN) | {"plot"}
    assert_bitwise_equal(stored_arrays(root), expected)
    assert "up to date" in _run(root, "dvc", "status").stdout
    assert temporaries(root) == []


def _forget_cached_outputs(root: Path, stage: str) -> None:
    """Delete the stage's outputs from the DVC cache, as after a first run that never finished.

    Otherwise `dvc repro` checks the unchanged stage's output out of the cache instead of
    recomputing it (the run cache is a different thing, off here with --no-run-cache).
    """
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    for out in lock["stages"][stage]["outs"]:
        (root / ".dvc" / "cache" / "files" / "md5" / out["md5"][:2] / out["md5"][2:]).unlink(missing_ok=True)


def _stage_error(root: Path, *command: str) -> str:
    """Run a stage command that must fail as a user error: exit 2, one line, no traceback or task dump."""
    result = _run(root, "python", *command, check=False)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for noise in ("Traceback", "Compute Failed", "distributed.", "Exception:"):
        assert noise not in result.stderr
    return errors[0]


def _flip_bytes(path: Path, start: int, count: int) -> None:
    data = bytearray(path.read_bytes())
    data[start : start + count] = bytes(255 - b for b in data[start : start + count])
    path.write_bytes(bytes(data))


def _restore_with_the_named_command(root: Path, line: str, store: str) -> None:
    command = line.split("restore it with `", 1)[1].split("`", 1)[0]
    assert command == f"dvc checkout --force {store}"
    _run(root, *command.split())
    assert "up to date" in _run(root, "dvc", "status").stdout


def test_a_corrupt_chunk_read_by_dask_workers_is_one_line_naming_store_array_and_fix(tiny, tmp_path):
    root, _ = tiny
    _flip_bytes(root / "data/codes.zarr/hidden2/code/c/1/0/0", 40, 16)
    params = tmp_path / "params.yaml"
    params.write_text((root / "params.yaml").read_text().replace("scheduler: synchronous", "scheduler: local", 1))
    line = _stage_error(
        root,
        "stages/estimate.py",
        "--params-file",
        str(params),
        "--out",
        str(tmp_path / "m.nc"),
        "--summary",
        str(tmp_path / "m.json"),
    )
    assert "'hidden2/code' of data/codes.zarr" in line and "`dvc repro -f -s reduce`" in line
    assert not (tmp_path / "m.nc").exists()
    _restore_with_the_named_command(root, line, "data/codes.zarr")


def test_a_truncated_store_is_one_line_naming_store_array_and_fix(tiny, tmp_path):
    root, _ = tiny
    shard = root / "data/activations.zarr/hidden3/activation/c/2/0/0"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])
    line = _stage_error(root, "stages/reduce.py", "--out", str(tmp_path / "codes.zarr"))
    assert "'hidden3/activation' of data/activations.zarr" in line and "`dvc repro -f -s dump-activations`" in line
    _restore_with_the_named_command(root, line, "data/activations.zarr")


def test_a_missing_epoch_in_the_weights_is_one_line_naming_store_array_and_fix(tiny, tmp_path):
    root, _ = tiny
    weights = zarr.open_group(root / "data/weights.zarr", mode="r+")
    name, array = next(iter(weights["weights"].arrays()))
    array.resize((array.shape[0], array.shape[1] - 1, *array.shape[2:]))  # (trial, epoch, ...): drop the last epoch
    line = _stage_error(root, "stages/dump_activations.py", "--out", str(tmp_path / "activations.zarr"))
    assert f"data/weights.zarr lacks epoch 5 in array 'weights/{name}'" in line
    assert "`dvc repro -f -s train`" in line
    _restore_with_the_named_command(root, line, "data/weights.zarr")


@pytest.fixture(scope="module")
def diverged(tmp_path_factory) -> Path:
    """A custom network whose gain overflows to inf in epoch 4 of 5, after which every weight is NaN."""
    root = tiny_project(tmp_path_factory.mktemp("diverged"))
    shutil.copy(TESTS / "custom_model_for_tests.py", root)
    _edit_params(
        root,
        "model",
        arch="custom",
        factory="custom_model_for_tests:make_diverging_net",
        kwargs={"hidden": 6, "factor": 8.0},
        layers={"hidden": "2", "output": "4"},
    )
    _repro(root, "dump-activations")
    return root


def test_diverged_training_stores_its_non_finite_weights_and_activations(diverged):
    weights = zarr.open_group(diverged / "data/weights.zarr", mode="r")
    gain = weights["weights/model.4.gain"][0]  # trial 0
    # 13 steps an epoch, gain x8 a step: 8**39 is finite (epoch 3), 8**52 is not (epoch 4).
    assert np.isfinite(gain[:4]).all() and not np.isfinite(gain[4:]).any()
    loss = weights["history/train_loss"][0]  # trial 0
    assert np.isfinite(loss[:4]).all() and np.isnan(loss[4:]).all()
    activations = zarr.open_group(diverged / "data/activations.zarr", mode="r")["output/activation"][...]
    assert np.isfinite(activations[:4]).all() and np.isnan(activations[4:]).all()


def test_diverged_training_completes_the_pipeline_with_nan_metrics_for_the_diverged_epochs(diverged):
    result = _run(diverged, "dvc", "repro", "estimate")
    assert result.stdout.count("Warning") + result.stderr.count("Warning") >= 1
    with xr.open_dataset(diverged / "reports/metrics.nc") as metrics:
        assert np.isfinite(metrics.I_XT.sel(epoch=[0, 1, 2, 3])).all()
        assert np.isnan(metrics.I_XT.sel(epoch=[4, 5])).all()
