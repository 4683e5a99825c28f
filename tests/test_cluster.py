"""A real Dask cluster: `dask scheduler` and two `dask worker` processes on 127.0.0.1, joined by the estimate
stage through DASK_SCHEDULER_ADDRESS, one worker killed with SIGKILL in the middle of the run."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_pipeline import _environment
from tiny_pipeline import assert_bitwise_equal

from ibpipe.parallel import WORKER_ENVIRONMENT

pytestmark = pytest.mark.slow
DASK = str(Path(sys.executable).parent / "dask")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cluster(tiny, tmp_path):
    """(scheduler address, {worker address: process}); every process it started is stopped, also on failure."""
    root, _ = tiny
    environment = dict(_environment(root), **{name: str(value) for name, value in WORKER_ENVIRONMENT.items()})
    address = f"tcp://127.0.0.1:{_free_port()}"
    started: list[subprocess.Popen] = []

    def start(*arguments: str) -> subprocess.Popen:
        log = open(tmp_path / f"dask-{len(started)}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen([DASK, *arguments], cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(process)
        return process

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard")
        workers = [
            start("worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard")
            for _ in range(2)
        ]
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            by_pid = {process.pid: process for process in workers}
            addresses = {worker: by_pid[pid] for worker, pid in client.run(os.getpid).items()}
        yield address, addresses
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _estimate(root: Path, address: str, out: Path) -> subprocess.Popen:
    params = out.parent / "params.yaml"
    params.write_text((root / "params.yaml").read_text().replace("scheduler: synchronous", "scheduler: local", 1))
    environment = dict(_environment(root), DASK_SCHEDULER_ADDRESS=address)
    command = [sys.executable, "stages/estimate.py", "--params-file", str(params), "--out", str(out)]
    command += ["--summary", str(out.with_suffix(".json"))]
    return subprocess.Popen(
        command, cwd=root, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_estimate_on_a_real_cluster_matches_the_local_run_bitwise(tiny, cluster, tmp_path):
    root, expected = tiny
    address, _ = cluster
    (tmp_path / "reports").mkdir()
    stage = _estimate(root, address, tmp_path / "reports" / "metrics.nc")
    _, stderr = stage.communicate(timeout=300)
    assert stage.returncode == 0, stderr
    found = _metrics_of(tmp_path)
    assert_bitwise_equal(found, {name: values for name, values in expected.items() if name in found}, 1e-9)
    assert len(found) > 10


def _metrics_of(folder: Path) -> dict:
    import xarray as xr

    with xr.open_dataset(folder / "reports" / "metrics.nc") as dataset:
        return {f"reports/metrics.nc/{name}": variable.values for name, variable in dataset.variables.items()}


def test_a_worker_killed_mid_estimate_is_replaced_by_the_other_and_results_are_identical(tiny, cluster, tmp_path):
    from distributed import Client

    root, expected = tiny
    address, workers = cluster
    (tmp_path / "reports").mkdir()
    with Client(address, timeout="30s") as monitor:
        stage = _estimate(root, address, tmp_path / "reports" / "metrics.nc")
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and stage.poll() is None and time.monotonic() < deadline:
            busy = [worker for worker, keys in monitor.processing().items() if keys and worker in workers]
            if busy:
                victim = workers[busy[0]]
                os.kill(victim.pid, signal.SIGKILL)
            time.sleep(0.005)
        _, stderr = stage.communicate(timeout=300)
    assert victim is not None, "the estimate finished before any task was seen running"
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert stage.returncode == 0, stderr
    found = _metrics_of(tmp_path)
    assert_bitwise_equal(found, {name: values for name, values in expected.items() if name in found}, 1e-9)
