"""No orphan writes: a stage stops when the `dvc` that ran it dies, and never replaces a newer run's output.

DVC runs a stage as `sh -c "python stages/x.py ..."`; when `dvc` is killed the shell and the stage live on.
The fake `dvc` here does the same; killing it must stop the stage within seconds, with nothing written.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ibpipe.errors import OutputError
from ibpipe.io import files

PROJECT = Path(__file__).resolve().parents[1]

# A stage through the common entry (run_stage) that starts its output, then works for a minute.
SLOW_STAGE = """
import time
from pathlib import Path
from ibpipe.io.files import atomic_path
from ibpipe.io.stage import run_stage

def main(out: Path = Path("out/result.txt")) -> None:
    with atomic_path(out) as temporary:
        temporary.write_text("partial")
        Path("started").write_text("yes")
        for _ in range(600):
            time.sleep(0.1)
        temporary.write_text("old result")

if __name__ == "__main__":
    run_stage(main)
"""

# `dvc` as far as the stage can tell: a program named dvc that runs the stage through `sh -c` and waits.
FAKE_DVC = """
import subprocess, sys
stage = f"{sys.executable} stage.py --out out/result.txt 2> stage.err; echo $? > stage.rc"
sys.exit(subprocess.call(["sh", "-c", stage]))
"""


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_stage_stops_and_writes_nothing_when_the_dvc_that_ran_it_is_killed(tmp_path):
    (tmp_path / "stage.py").write_text(textwrap.dedent(SLOW_STAGE))
    (tmp_path / "dvc").write_text(textwrap.dedent(FAKE_DVC))
    environment = dict(os.environ, PYTHONPATH=str(PROJECT))
    dvc = subprocess.Popen([sys.executable, str(tmp_path / "dvc")], cwd=tmp_path, env=environment)
    try:
        assert _wait_for(lambda: (tmp_path / "started").exists(), 60), "the stage never started"
        dvc.send_signal(signal.SIGKILL)  # as `kill -9` of dvc, or a terminal closed under it
        dvc.wait()
        assert _wait_for(lambda: (tmp_path / "stage.rc").exists(), 10), "the orphaned stage kept running"
    finally:
        if dvc.poll() is None:
            dvc.kill()
    assert (tmp_path / "stage.rc").read_text().strip() == "130"
    assert (tmp_path / "stage.err").read_text().strip() == (
        "stopped: the `dvc` that ran this stage is gone; nothing was written"
    )
    assert list((tmp_path / "out").iterdir()) == []  # no output, no temporary


def test_a_stage_started_by_hand_is_not_watched():
    from ibpipe.io.stage import dvc_ancestors

    assert dvc_ancestors() == [] or "dvc" in " ".join(sys.argv)  # pytest itself run under dvc would be watched


@pytest.fixture
def claimed(monkeypatch):
    """This process as a stage that started now (outputs written by others from now on are newer)."""
    monkeypatch.setattr(files, "_claimed_since_ns", None)
    monkeypatch.setattr(files, "_published", set())
    files.claim_outputs()


def test_an_output_a_newer_run_wrote_meanwhile_is_not_replaced(tmp_path, claimed):
    target = tmp_path / "metrics.json"
    target.write_text('{"newer": true}\n')  # a newer run published while this one ran
    with pytest.raises(OutputError, match=r"metrics.json was written by another run after this one started"):
        files.write_json(target, {"older": True})
    assert target.read_text() == '{"newer": true}\n'
    assert list(tmp_path.iterdir()) == [target]


def test_an_output_older_than_the_run_and_its_own_outputs_are_replaced(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    target.write_text("{}\n")
    monkeypatch.setattr(files, "_published", set())
    monkeypatch.setattr(files, "_claimed_since_ns", None)
    files.claim_outputs()
    files.write_json(target, {"run": 1})
    files.write_json(target, {"run": 2})  # this run's own output, written again
    assert files.read_json(target) == {"run": 2}


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@pytest.mark.slow
def test_ctrl_c_during_a_dask_estimate_is_one_line_exit_130_without_worker_tracebacks(tiny, tmp_path):
    from test_pipeline import _environment

    root, _ = tiny
    params = tmp_path / "params.yaml"
    params.write_text((root / "params.yaml").read_text().replace("scheduler: synchronous", "scheduler: local", 1))
    outputs = ["--out", str(tmp_path / "m.nc"), "--summary", str(tmp_path / "m.json")]
    stage = subprocess.Popen(
        [sys.executable, "stages/estimate.py", "--params-file", str(params), *outputs],
        cwd=root,
        env=_environment(root),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert _wait_for(lambda: len(_children(stage.pid)) >= 2, 120), "the Dask workers never started"
    time.sleep(1.0)
    os.killpg(stage.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group, workers included
    error = stage.communicate(timeout=120)[1]
    lines = [line for line in error.replace("\r", "\n").splitlines() if line.strip() and "task/s" not in line]
    assert stage.returncode == 130 and lines[-1] == "interrupted; `dvc repro` resumes", error
    assert "Traceback" not in error and not (tmp_path / "m.nc").exists()
