"""What every command line shares (the DVC stage shells and ``python -m ibpipe``): user errors as one line.

- ``ibpipe.errors.UserError`` (bad params, missing or corrupt inputs) prints ``error: <message>``
  on one line and exits 2;
- Ctrl-C (``KeyboardInterrupt``) prints ``interrupted; `dvc repro` resumes`` and exits 130;
- ``--debug`` anywhere on the command line, or ``IBPIPE_DEBUG=1`` in the environment, shows the
  traceback instead.

Anything else is a programming error and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import typer
from typer.core import TyperGroup

from ibpipe.errors import UserError

DEBUG_VARIABLE = "IBPIPE_DEBUG"
DEBUG_FLAG = "--debug"
INTERRUPTED = "interrupted; `dvc repro` resumes"
USER_ERROR_EXIT = 2
INTERRUPTED_EXIT = 130


def debugging() -> bool:
    """True when tracebacks are asked for (``IBPIPE_DEBUG`` set to anything but '' or '0')."""
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def take_debug_flag(arguments: list[str]) -> list[str]:
    """``arguments`` without ``--debug``; its presence sets ``IBPIPE_DEBUG=1`` (for this process and its workers)."""
    if DEBUG_FLAG in arguments:
        os.environ[DEBUG_VARIABLE] = "1"
    return [argument for argument in arguments if argument != DEBUG_FLAG]


def one_line(error: BaseException) -> str:
    """The error's message on one line (a message that spans lines keeps its words)."""
    return " ".join(str(error).split()) or type(error).__name__


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a ``UserError`` into ``error: <message>`` and exit 2, Ctrl-C into one line and exit 130."""
    try:
        yield
    except UserError as error:
        if debugging():
            raise
        _close_progress_bars()
        typer.echo(f"error: {one_line(error)}", err=True)
        raise typer.Exit(code=USER_ERROR_EXIT) from None
    except KeyboardInterrupt:
        if debugging():
            raise
        _close_progress_bars()
        orphaned = os.environ.get(ORPHANED_VARIABLE) == "1"
        typer.echo(ORPHANED if orphaned else INTERRUPTED, err=True)
        if owns_process:
            _silence_shutdown()
        raise typer.Exit(code=INTERRUPTED_EXIT) from None


def _close_progress_bars() -> None:
    """End the progress bars a failing task loop left open, so the message starts its own line."""
    if "tqdm" in sys.modules:
        from tqdm import tqdm

        for bar in list(getattr(tqdm, "_instances", [])):
            bar.close()


ORPHANED = "stopped: the `dvc` that ran this stage is gone; nothing was written"
# True in a process that is only this command line (a stage, `python -m ibpipe`), false in one that runs
# commands as a library (tests with CliRunner): only the former may silence its stderr after Ctrl-C.
owns_process = False


def _silence_shutdown() -> None:
    """After the one line, hide what an interrupted shutdown prints (a Dask cluster interrupted while it started
    complains from an atexit hook): stderr goes to /dev/null for the rest of this process."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


class UserErrorGroup(TyperGroup):
    """A typer command group whose every command (nested groups included) reports user errors as one line;
    ``--debug`` anywhere on its command line turns the tracebacks back on."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, take_debug_flag(list(args)))

    def invoke(self, ctx):
        with user_errors():
            return super().invoke(ctx)


def run_stage(main: Callable, outputs: tuple[str, ...] = ("out",)) -> None:
    """Run ``main`` as a command line; user errors exit 2 with one message, Ctrl-C exits 130 with one line.

    ``outputs``: the arguments of ``main`` that name its outputs; each is checked before any work (its folder
    can be made and written, its disk has room; ``ibpipe.io.files.check_output``).
    """
    from ibpipe.io.files import check_output, claim_outputs

    global owns_process
    owns_process = True

    os.environ[QUIET_CHILDREN_VARIABLE] = "1"

    @functools.wraps(main)
    def guarded(*args, **kwargs):
        with user_errors():
            claim_outputs()  # an output replaced by a newer run while this one runs is not overwritten
            watch_parents(dvc_ancestors(), _stop_orphan)
            for name in outputs:
                if kwargs.get(name) is not None:
                    check_output(kwargs[name])
            started = time.perf_counter()
            result = main(*args, **kwargs)
            # One closing line per stage, so a log that is not a terminal still says how long each took.
            print(f"{Path(sys.argv[0]).stem} done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            return result

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(guarded)
    app(args=take_debug_flag(sys.argv[1:]))


# --- No orphan writes -----------------------------------------------------------------------------------
# DVC runs a stage as `sh -c "python stages/x.py ..."`: when `dvc` dies (SIGTERM, a closed terminal), the
# shell and the stage live on and would publish their outputs later, over those of a newer run. A stage
# run under DVC therefore watches every process between it and `dvc`, and stops (as on Ctrl-C, so its
# temporaries are removed) when one of them is gone. A stage started by hand (no `dvc` above it) is not
# watched: `nohup python stages/train.py &` keeps running after its terminal closes, as asked.
WATCH_SECONDS = 0.5


def _process_status(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process; None when it is gone (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (None if fields[0] == "Z" else (int(fields[1]), int(fields[19]))) if len(fields) > 19 else None


def _is_dvc(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:3]  # dvc, python dvc, python -m dvc
    except OSError:
        return False
    return any(os.path.basename(part.decode(errors="replace")) == "dvc" for part in argv)


def dvc_ancestors(pid: int | None = None) -> list[tuple[int, int]]:
    """(pid, start time) of each process from this one's parent up to the nearest `dvc`; [] when no `dvc` is above."""
    chain = []
    status = _process_status(os.getpid() if pid is None else pid)
    while status is not None and status[0] > 1:
        parent = status[0]
        status = _process_status(parent)
        if status is None:
            return []
        chain.append((parent, status[1]))
        if _is_dvc(parent):
            return chain
    return []


def watch_parents(chain: list[tuple[int, int]], on_gone: Callable[[], None], period: float = WATCH_SECONDS) -> None:
    """Call ``on_gone`` (from a daemon thread) once a process of ``chain`` exits or is replaced by another pid."""
    import threading

    def watch() -> None:
        import time

        while all(_alive(pid, started) for pid, started in chain):
            time.sleep(period)
        on_gone()

    if chain:
        threading.Thread(target=watch, name="ibpipe-parent-watch", daemon=True).start()


def _alive(pid: int, started: int) -> bool:
    status = _process_status(pid)
    return status is not None and status[1] == started


def _stop_orphan() -> None:
    """Stop this stage as Ctrl-C would (its temporaries are removed); kill it if it has not stopped within 30 s."""
    import signal
    import threading

    os.environ[ORPHANED_VARIABLE] = "1"
    os.kill(os.getpid(), signal.SIGINT)  # a real signal: it also wakes a main thread that sleeps or waits
    threading.Timer(30.0, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()


ORPHANED_VARIABLE = "IBPIPE_ORPHANED"

# --- Ctrl-C without worker tracebacks -------------------------------------------------------------------
# Ctrl-C reaches every process of the terminal's foreground group, Dask's worker processes included, and
# each printed its own KeyboardInterrupt traceback. With this variable set, a process that multiprocessing
# started (a Dask worker, spawned) ignores SIGINT from the moment it imports ibpipe (``ibpipe/__init__``):
# the stage stops its workers as it unwinds.
QUIET_CHILDREN_VARIABLE = "IBPIPE_QUIET_CHILDREN"
