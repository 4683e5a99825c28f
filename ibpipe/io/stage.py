"""What every DVC stage shell shares: a typer entry point that turns user errors into one clear line.

Only ``ibpipe.errors.UserError`` (bad params, missing or corrupt inputs) is caught: it prints
``error: <message>`` and exits 2. Anything else is a programming error and keeps its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer

from ibpipe.errors import UserError


def run_stage(main: Callable) -> None:
    """Run ``main`` as a command line; user errors exit 2 with one message, no traceback."""

    @functools.wraps(main)
    def guarded(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=2) from error

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(guarded)
    app()
