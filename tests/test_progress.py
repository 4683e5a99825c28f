"""Progress: a bar on a terminal, a few plain lines in a log (DVC, CI and batch systems pipe a stage's output)."""

import io
import subprocess
import sys

from ibpipe.progress import LINE_PERCENT, ProgressLines, progress, progress_mode


class Clock:
    """A clock that advances ``step`` seconds at every reading."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_step_writes_a_line_every_few_percent_and_a_last_line_with_its_time():
    log = io.StringIO()
    # 1000 updates, 1 s apart: a line at 5 %, 10 %, ... 95 %, then the last one
    with ProgressLines(total=1000, desc="estimate", unit="task", stream=log, clock=Clock(1.0)) as steps:
        for _ in range(1000):
            steps.update()
    lines = log.getvalue().splitlines()
    assert len(lines) == 100 // LINE_PERCENT
    assert lines[0] == "estimate: 50/1000 tasks (5%), 50 s"
    assert lines[-2].startswith("estimate: 950/1000 tasks (95%), 15 min")
    assert lines[-1].startswith("estimate: 1000/1000 tasks done in 16 min")
    assert "\r" not in log.getvalue()


def test_a_fast_step_writes_only_its_last_line():
    log = io.StringIO()
    for _ in ProgressLines(range(500), total=500, desc="reduce trial0/", unit="layer", stream=log, clock=Clock(0.001)):
        pass
    assert log.getvalue() == "reduce trial0/: 500/500 layers done in 1 s\n"


def test_a_step_cut_short_says_where_it_stopped():
    log = io.StringIO()
    steps = ProgressLines(total=10, desc="train trials 0..1", stream=log, clock=Clock(30.0))
    steps.update(3)
    steps.close()
    steps.close()  # once only
    assert log.getvalue().splitlines() == [
        "train trials 0..1: 3/10 steps (30%), 30 s",
        "train trials 0..1: 3/10 steps stopped after 1 min 00 s",
    ]


def test_the_mode_follows_the_stream_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv("IBPIPE_PROGRESS", raising=False)
    assert progress_mode(io.StringIO()) == "lines" and progress_mode(Terminal()) == "bar"
    monkeypatch.setenv("IBPIPE_PROGRESS", "off")
    assert progress_mode(Terminal()) == "off"
    silent = io.StringIO()
    with progress(total=3, desc="bootstrap", stream=silent) as steps:
        steps.update(3)
    assert silent.getvalue() == ""
    monkeypatch.setenv("IBPIPE_PROGRESS", "bar")
    bar = progress(total=3, desc="bootstrap", stream=io.StringIO())
    assert type(bar).__module__.startswith("tqdm")
    bar.close()


def test_on_a_terminal_it_is_a_tqdm_bar_and_without_a_description_nothing(monkeypatch):
    monkeypatch.delenv("IBPIPE_PROGRESS", raising=False)
    terminal = Terminal()
    assert list(progress(range(4), desc="dump-activations trial 0", stream=terminal)) == [0, 1, 2, 3]
    assert "\r" in terminal.getvalue() and "4/4" in terminal.getvalue()
    quiet = io.StringIO()
    assert list(progress(range(4), desc=None, stream=quiet)) == [0, 1, 2, 3]
    assert quiet.getvalue() == ""


def test_run_tasks_through_a_pipe_writes_one_line():
    """A stage's Dask fan-out run as DVC runs it (stderr a pipe): one line, not a bar's frames."""
    code = (
        "from ibpipe.parallel import dask_client, run_tasks\n"
        "with dask_client('synchronous') as client:\n"
        "    run_tasks(client, abs, [(-i,) for i in range(200)], {}, 'estimate')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("estimate: 200/200 tasks done in ")
