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
from collections.abc import Callable, Iterator

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
        typer.echo(f"error: {one_line(error)}", err=True)
        raise typer.Exit(code=USER_ERROR_EXIT) from None
    except KeyboardInterrupt:
        if debugging():
            raise
        # Whatever still runs (a Dask cluster shutting down) must not bury the line under its logs.
        logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
        typer.echo(INTERRUPTED, err=True)
        raise typer.Exit(code=INTERRUPTED_EXIT) from None


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
    from ibpipe.io.files import check_output

    @functools.wraps(main)
    def guarded(*args, **kwargs):
        with user_errors():
            for name in outputs:
                if kwargs.get(name) is not None:
                    check_output(kwargs[name])
            return main(*args, **kwargs)

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(guarded)
    app(args=take_debug_flag(sys.argv[1:]))
