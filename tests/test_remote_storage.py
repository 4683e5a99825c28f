"""Beyond one disk: stores on S3 (a moto server on 127.0.0.1) for dump, reduce and estimate, and a DVC remote
from which a second clone pulls every output without recomputing."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
import zarr
from test_pipeline import _environment, _run
from tiny_pipeline import assert_bitwise_equal

pytestmark = pytest.mark.slow
BUCKET = "ibpipe-test"


@pytest.fixture(scope="module")
def s3():
    """The environment that points fsspec/s3fs at a local S3 server (the server stops with the module)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        environment = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
        import s3fs

        s3fs.S3FileSystem(
            key="testing", secret="testing", client_kwargs={"endpoint_url": environment["AWS_ENDPOINT_URL"]}
        ).mkdir(BUCKET)
        yield environment
    finally:
        server.stop()


def _stage(root: Path, environment: dict, *arguments: str) -> None:
    result = subprocess.run(
        [sys.executable, *arguments],
        cwd=root,
        env=dict(_environment(root), **environment),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _layer_arrays(group: zarr.Group) -> dict:
    arrays = {name: array[...] for name, array in group.arrays()}
    for name, subgroup in group.groups():
        arrays.update({f"{name}/{inner}": array[...] for inner, array in subgroup.arrays()})
    return arrays


def test_dump_reduce_and_estimate_read_and_write_stores_on_s3_with_identical_results(tiny, s3, tmp_path, monkeypatch):
    root, expected = tiny
    run = f"s3://{BUCKET}/run"
    _stage(root, s3, "stages/dump_activations.py", "--out", f"{run}/activations.zarr")
    _stage(root, s3, "stages/reduce.py", "--activations", f"{run}/activations.zarr", "--out", f"{run}/codes.zarr")
    # Process workers: each opens the S3 stores itself, sharing no disk with the stage.
    params = tmp_path / "params.yaml"
    params.write_text((root / "params.yaml").read_text().replace("scheduler: synchronous", "scheduler: local", 1))
    out = tmp_path / "metrics.nc"
    _stage(
        root,
        s3,
        "stages/estimate.py",
        "--params-file",
        str(params),
        "--codes",
        f"{run}/codes.zarr",
        "--activations",
        f"{run}/activations.zarr",
        "--out",
        str(out),
        "--summary",
        str(tmp_path / "metrics.json"),
    )
    for name, value in s3.items():
        monkeypatch.setenv(name, value)
    for store in ("activations.zarr", "codes.zarr"):
        remote = zarr.open_group(f"{run}/{store}", mode="r")
        assert remote.attrs["complete"] is True
        found = {f"data/{store}/{name}": values for name, values in _layer_arrays(remote).items()}
        assert_bitwise_equal(
            found, {name: values for name, values in expected.items() if name.startswith(f"data/{store}/")}
        )
    with xr.open_dataset(out) as metrics:
        found = {f"reports/metrics.nc/{name}": variable.values for name, variable in metrics.variables.items()}
    assert_bitwise_equal(
        found, {name: values for name, values in expected.items() if name.startswith("reports/metrics.nc/")}, 1e-9
    )


def test_a_second_clone_pulls_every_output_from_a_dvc_remote_and_is_up_to_date_without_recomputing(tiny, tmp_path):
    root, expected = tiny
    git = ("git", "-c", "user.name=ibpipe", "-c", "user.email=ibpipe@example.org")
    _run(root, "dvc", "remote", "add", "--default", "--force", "storage", str(tmp_path / "remote"))
    _run(root, *git, "add", "-A")
    _run(root, *git, "commit", "-q", "-m", "a finished run")
    _run(root, "dvc", "push")
    clone = tmp_path / "clone"
    _run(tmp_path, "git", "clone", "-q", str(root), str(clone))
    _run(clone, "dvc", "pull")
    assert "up to date" in _run(clone, "dvc", "status").stdout
    assert "Running stage" not in _run(clone, "dvc", "repro").stdout
    with xr.open_dataset(clone / "reports" / "metrics.nc") as metrics:
        found = {f"reports/metrics.nc/{name}": variable.values for name, variable in metrics.variables.items()}
    assert_bitwise_equal(
        found, {name: values for name, values in expected.items() if name.startswith("reports/metrics.nc/")}, 1e-9
    )
