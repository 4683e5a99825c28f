"""Files written atomically: JSON, netCDF and figures. A killed stage never leaves an output that looks complete."""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from ibpipe.errors import InputError, MissingFileError, OutputError, UserError

# What an output must have room for when its size is not estimated: a margin for the small outputs
# (JSON, figures, metrics) and the temporary copy every atomic write makes beside its target.
MIN_FREE_BYTES = 16 * 2**20
# Failures of a write that are about the output (its disk or its folder), not about a bug: one sentence each.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENOTDIR}


# Set by a stage as it starts (``claim_outputs``): an output that appears or changes after this moment was
# written by another run (a newer `dvc repro`), and this run must not replace it.
_claimed_since_ns: int | None = None
_published: set[Path] = set()


def claim_outputs() -> None:
    """From now on, publish an output only if no other run has written it since (see ``atomic_path``)."""
    global _claimed_since_ns
    _claimed_since_ns = time.time_ns()


def _still_ours(target: Path) -> None:
    """Refuse to replace ``target`` when another run wrote it after this stage started (a newer run's result)."""
    if _claimed_since_ns is None or target.resolve() in _published:
        return
    try:
        written = target.lstat().st_mtime_ns
    except FileNotFoundError:
        return
    if written > _claimed_since_ns:
        raise OutputError(
            f"{target} was written by another run after this one started; this run's older result is dropped "
            f"(run `dvc repro` again if the newer one is not what you want)"
        )


def check_output(target: str | Path, needed_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse, before any work, an output that cannot be written: its folder cannot be made (a file is in the
    way) or is not writable, or its disk has less than ``needed_bytes`` free. URLs are not checked."""
    if "://" in str(target):
        return
    target = Path(target)
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(
            f"{target} cannot be written: {folder} is a file, not a folder; move it or choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(
            f"{target} cannot be written: {folder} is not writable; fix its permissions or choose another path"
        )
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise OutputError(
            f"{target} cannot be written: {folder} has {free / 2**20:.0f} MiB free, the output needs about "
            f"{needed_bytes / 2**20:.0f} MiB; free some space (`dvc gc` drops unused cache) and rerun"
        )


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    The temporary directory is named ``.<target>.<pid>.<random>.tmp``: a writer killed with
    SIGKILL cannot clean up, so each new writer first removes the temporaries of writers
    that are no longer running (on this machine) before it starts.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        prefix = f".{target.name}.{os.getpid()}."
        temporary = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent)) / target.name
    except OSError as error:
        check_output(target, needed_bytes=0)  # a sentence for a folder in the way or read-only
        raise _output_error(target, error) from None
    try:
        yield temporary
        _still_ours(target)
        _replace(temporary, target)
        _published.add(target.resolve())
    except UserError:
        raise
    except OSError as error:
        # a full disk, a read-only folder: one sentence naming the output; nothing is left at its place
        if error.errno not in _OUTPUT_ERRNOS or not _about(error, target):
            raise
        raise _output_error(target, error) from None
    finally:
        shutil.rmtree(temporary.parent, ignore_errors=True)


def _about(error: OSError, target: Path) -> bool:
    """Whether an OSError is about writing ``target`` (no file named, or a file beside or inside it)."""
    named = error.filename
    return named is None or Path(os.fspath(named)).resolve().is_relative_to(target.parent.resolve())


def _output_error(target: Path, error: OSError) -> OutputError:
    reason = error.strerror or type(error).__name__
    return OutputError(f"{target} could not be written ({reason}); nothing was left in its place: fix that and rerun")


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Delete what killed writers of ``target`` left beside it; return what was removed."""
    target = Path(target)
    removed = []
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*"):
        owner = leftover.name[len(target.name) + 2 :].split(".", 1)[0]
        if leftover.name.endswith(".tmp") and owner.isdigit() and int(owner) != os.getpid() and _running(int(owner)):
            continue
        if leftover.name.endswith(".tmp") or leftover.name == f".{target.name}.old":
            shutil.rmtree(leftover, ignore_errors=True)
            removed.append(leftover)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _replace(source: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        retired = target.with_name(f".{target.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(target, retired)
        os.replace(source, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        if target.is_symlink() or target.exists():
            target.unlink()
        os.replace(source, target)


def write_figures(directory: str | Path, figures: Mapping[str, Any], dpi: int) -> None:
    """Save matplotlib figures as <name>.png in a directory that replaces ``directory`` whole, atomically."""
    with atomic_path(directory) as temporary:
        temporary.mkdir()
        for name, figure in figures.items():
            figure.savefig(temporary / f"{name}.png", dpi=dpi)


def write_json(path: str | Path, payload: Any) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def write_metrics(path: str | Path, metrics: xr.Dataset) -> None:
    """Write a Dataset (the metrics, the autoencoder curves) as netCDF (engine netcdf4), atomically."""
    with atomic_path(path) as temporary:
        metrics.to_netcdf(temporary, engine="netcdf4")


def open_metrics(path: str | Path = "reports/metrics.nc") -> xr.Dataset:
    """Load the metrics Dataset (dims epoch, layer, estimator) into memory."""
    return open_netcdf(path)


def open_netcdf(path: str | Path) -> xr.Dataset:
    """Load a Dataset the pipeline wrote (metrics, autoencoder curves) into memory."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist; run `dvc repro` first")
    try:
        dataset = xr.open_dataset(path, engine="netcdf4")
    except (OSError, ValueError) as error:  # netCDF4 says "Unknown file format" as an OSError
        reason = " ".join(str(error).split())[:160]
        raise InputError(
            f"{path} is not a netCDF file the pipeline wrote ({reason}); give reports/metrics.nc or rerun `dvc repro`"
        ) from None
    with dataset:
        return dataset.load()
