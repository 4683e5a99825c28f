"""What every DVC stage shell shares: a typer entry point that turns expected failures into clear messages."""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer

from ibpipe.config import ParamsError

EXPECTED_FAILURES = (ParamsError, FileNotFoundError, ValueError)


def run_stage(main: Callable) -> None:
    """Run ``main`` as a command line; params and input problems exit 2 with one message, no traceback."""

    @functools.wraps(main)
    def guarded(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except EXPECTED_FAILURES as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2) from error

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(guarded)
    app()
