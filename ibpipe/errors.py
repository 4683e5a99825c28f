"""The failures a user can fix: each carries one message that says what is wrong and what to do.

A stage shell turns these into one line on stderr and exit code 2; any other exception is a
programming error and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user gave (params, files, stores); the message names the fix."""


class ParamsError(UserError, ValueError):
    """params.yaml is malformed; the message lists every offending key."""


class InputError(UserError, ValueError):
    """An input file or array does not fit what was asked (missing, wrong shape, wrong epochs)."""


class StoreError(UserError):
    """A store on disk is missing, truncated or corrupt; the message names it and the command that rebuilds it."""


class MissingFileError(UserError, FileNotFoundError):
    """A file the user must place (IDX files, a checkpoint, an upstream output) is not there."""


class OutputError(UserError, OSError):
    """An output cannot be written (its folder is a file or read-only, the disk is full); the message names the path."""
