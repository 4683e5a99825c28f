"""Hostile files and paths: a checkpoint that would run code, factory paths with typos; misuse of the command line.

Each misuse of the command line is one case of a table: what was given, and what the one `error:` line
must name (the key or file, the value, what is allowed). Every case exits 2 without a traceback.
"""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from typer.testing import CliRunner

import ibpipe
from ibpipe.cli import app
from ibpipe.errors import InputError, UserError
from ibpipe.nn.architectures import build_model, load_checkpoint, model_spec
from ibpipe.nn.recording import build_custom

TESTS = Path(__file__).resolve().parent


class _RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _mlp():
    return build_model(model_spec("mlp", (12,), 2, widths=[5, 3], activation="tanh"))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    checkpoint = tmp_path / "evil.pt"
    torch.save({"state_dict": _RunsCode(marker)}, checkpoint)
    with pytest.raises(
        InputError, match=r"model\.checkpoint: .*evil\.pt is not a state_dict loadable with weights_only"
    ):
        load_checkpoint(_mlp(), checkpoint)
    assert not marker.exists()
    # A bare pickle (not torch.save's zip format) that runs code is refused the same way.
    checkpoint.write_bytes(pickle.dumps(_RunsCode(marker), protocol=2))
    with pytest.raises(InputError, match="weights_only"):
        load_checkpoint(_mlp(), checkpoint)
    assert not marker.exists()


def test_a_plain_state_dict_loads(tmp_path):
    source, target = _mlp(), _mlp()
    torch.save(source.state_dict(), tmp_path / "plain.pt")
    load_checkpoint(target, tmp_path / "plain.pt")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("custom_model_for_test:make_net", "module 'custom_model_for_test' was not found"),
        ("custom_model_for_tests.nets:make_net", "module 'custom_model_for_tests.nets' was not found"),
        ("custom_model_for_tests:make_nett", "module 'custom_model_for_tests'"),
        ("custom_model_for_tests:make_nett", "has no attribute 'make_nett'; did you mean 'make_net'"),
        ("custom_model_for_tests:build", "has no attribute 'build'; it defines"),
    ],
)
def test_a_factory_path_with_a_typo_names_the_module_or_attribute_not_found(monkeypatch, path, named):
    monkeypatch.chdir(TESTS)
    with pytest.raises(UserError) as caught:
        build_custom(path)
    assert named in str(caught.value)
    assert f"model.factory = {path!r}" in str(caught.value)


def _metrics_file(path: Path) -> Path:
    """A metrics file with two estimators, as the estimate stage writes it (the columns `metrics` prints)."""
    cells = {"dims": ("epoch", "layer", "estimator"), "data": np.zeros((1, 1, 2))}
    dataset = xr.Dataset(
        dict.fromkeys(("H_T", "I_XT", "I_TY"), (cells["dims"], cells["data"])) | {"layer_width": (("layer",), [3])},
        coords={"epoch": [0], "layer": ["hidden1"], "estimator": ["plugin", "kde"]},
        attrs={"H_X": 1.0, "H_Y": 1.0},
    )
    dataset.to_netcdf(path, engine="netcdf4")
    return path


def _misuse_files(folder: Path) -> dict[str, str]:
    text = folder / "notes.txt"
    text.write_text("not a netCDF file\n")
    fake_npy = folder / "t.npy"
    fake_npy.write_text("0.1 0.2 0.3\n")
    np.save(folder / "y.npy", np.array([0, 1, 1]))
    _metrics_file(folder / "metrics.nc")
    (folder / "not_a_project").mkdir()
    return {"text": str(text), "fake_npy": str(fake_npy), "labels": str(folder / "y.npy"), "folder": str(folder)}


# (case, arguments with {placeholders} filled from _misuse_files, words the one error line must hold)
MISUSES = [
    ("metrics of a text file", ["infoplane", "metrics", "{text}"], ["{text}", "not a netCDF file", "dvc repro"]),
    (
        "metrics of an estimator never measured",
        ["infoplane", "metrics", "{folder}/metrics.nc", "--estimator", "foo"],
        ["--estimator 'foo'", "measured: plugin, kde"],
    ),
    (
        "a text file as .npy",
        ["infoplane", "information", "{fake_npy}", "{labels}", "--n-bins", "3"],
        ["{fake_npy}", "not a NumPy .npy array", "numpy.save"],
    ),
    ("ae validate --dmax 0", ["ae", "validate", "--dmax", "0"], ["--dmax 0", "at least 1"]),
    ("ae validate --n-samples -5", ["ae", "validate", "--n-samples", "-5"], ["--n-samples -5", "at least 10"]),
    (
        "compare on a folder that is not a project",
        ["compare", "workspace", "--repo", "{folder}/not_a_project"],
        ["--repo {folder}/not_a_project", "not a DVC project", "dvc.yaml"],
    ),
    ("run of an unknown stage", ["run", "trian"], ["unknown stage 'trian'"]),
    (
        "information --n-bins -3",
        ["infoplane", "information", "{labels}", "{labels}", "--n-bins", "-3"],
        ["n_bins = -3", "at least 2"],
    ),
    (
        "information --n-bins 0",
        ["infoplane", "information", "{labels}", "{labels}", "--n-bins", "0"],
        ["n_bins = 0", "at least 2"],
    ),
]


@pytest.mark.parametrize(("case", "arguments", "named"), MISUSES, ids=[case for case, _, _ in MISUSES])
def test_each_misuse_of_the_command_line_is_one_error_line_and_exit_2(tmp_path, monkeypatch, case, arguments, named):
    files = _misuse_files(tmp_path)
    monkeypatch.chdir(tmp_path / "not_a_project")
    monkeypatch.delenv("IBPIPE_DEBUG", raising=False)
    result = CliRunner().invoke(app, [argument.format(**files) for argument in arguments])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    for words in named:
        assert words.format(**files) in errors[0], (case, errors[0])


def test_stages_outside_a_project_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["stages"])
    assert result.exit_code == 2
    assert f"error: no dvc.yaml in {tmp_path}" in result.output and "stages --write" in result.output


def test_open_metrics_on_a_file_that_is_not_netcdf_raises_a_user_error(tmp_path):
    (tmp_path / "metrics.nc").write_text("hello")
    with pytest.raises(ibpipe.UserError, match=r"metrics.nc is not a netCDF file"):
        ibpipe.open_metrics(tmp_path / "metrics.nc")


def test_a_user_error_shows_its_traceback_with_debug(tmp_path, monkeypatch):
    (tmp_path / "metrics.nc").write_text("hello")
    monkeypatch.delenv("IBPIPE_DEBUG", raising=False)
    for arguments, environment in ((["--debug"], {}), ([], {"IBPIPE_DEBUG": "1"})):
        try:
            result = CliRunner().invoke(
                app, [*arguments, "infoplane", "metrics", str(tmp_path / "metrics.nc")], env=environment
            )
        finally:
            os.environ.pop("IBPIPE_DEBUG", None)  # --debug sets it for the process (and its workers)
        assert isinstance(result.exception, ibpipe.UserError), result.output


def test_every_user_facing_error_class_is_an_ibpipe_user_error():
    from ibpipe import errors

    classes = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)]
    assert len(classes) >= 5 and all(issubclass(value, ibpipe.UserError) for value in classes)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ibpipe.cli.load_params", interrupted)
    monkeypatch.delenv("IBPIPE_DEBUG", raising=False)
    result = CliRunner().invoke(app, ["params", "params.yaml"])
    assert result.exit_code == 130
    assert result.output.strip() == "interrupted; `dvc repro` resumes"


# Outputs checked before work: each case is an output path a stage cannot write; the stage refuses it before
# computing anything, in one sentence naming the path.
def _read_only(monkeypatch, folder: Path) -> None:
    """``folder`` not writable, as for a user without write permission (tests may run as root, who ignores modes)."""
    real = os.access
    monkeypatch.setattr("os.access", lambda path, mode: False if Path(path) == folder else real(path, mode))


def _full_disk(monkeypatch, folder: Path) -> None:
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 2**20, 2**20))


OUTPUTS = [
    ("a folder that is a file", lambda monkeypatch, tmp: (tmp / "reports").write_text(""), "reports is a file"),
    ("a read-only folder", lambda monkeypatch, tmp: _read_only(monkeypatch, tmp / "reports"), "is not writable"),
    ("a full disk", lambda monkeypatch, tmp: _full_disk(monkeypatch, tmp), "has 1 MiB free"),
]


@pytest.mark.parametrize(("case", "arrange", "named"), OUTPUTS, ids=[case for case, _, _ in OUTPUTS])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch, case, arrange, named):
    from ibpipe.errors import OutputError
    from ibpipe.io.files import check_output

    (tmp_path / "reports").mkdir(exist_ok=True) if case != "a folder that is a file" else None
    arrange(monkeypatch, tmp_path)
    with pytest.raises(OutputError) as caught:
        check_output(tmp_path / "reports" / "figures" / "metrics.nc")
    assert str(tmp_path / "reports" / "figures" / "metrics.nc") in str(caught.value) and named in str(caught.value)


def test_a_stage_refuses_an_unwritable_output_before_reading_its_inputs(tmp_path):
    import subprocess
    import sys

    (tmp_path / "reports").write_text("")
    outputs = ["--out", str(tmp_path / "reports/metrics.nc"), "--summary", str(tmp_path / "m.json")]
    result = subprocess.run(
        [sys.executable, str(TESTS.parent / "stages/estimate.py"), "--codes", str(tmp_path / "absent.zarr"), *outputs],
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f"error: {tmp_path / 'reports/metrics.nc'} cannot be written: {tmp_path / 'reports'}"
    )


def test_a_disk_filling_up_mid_write_is_one_sentence_and_leaves_nothing_that_looks_complete(tmp_path):
    import errno

    from ibpipe.errors import OutputError
    from ibpipe.io.stores import new_store

    target = tmp_path / "codes.zarr"
    with pytest.raises(OutputError) as caught, new_store(target) as root:
        root.create_array("x", shape=(4,), dtype="int32")[...] = 1
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(caught.value).startswith(f"{target} could not be written (No space left on device)")
    assert not target.exists() and list(tmp_path.iterdir()) == []
