"""Files written atomically: JSON, netCDF and figures. A killed stage never leaves an output that looks complete."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from ibpipe.errors import InputError, MissingFileError


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    The temporary directory is named ``.<target>.<pid>.<random>.tmp``: a writer killed with
    SIGKILL cannot clean up, so each new writer first removes the temporaries of writers
    that are no longer running (on this machine) before it starts.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    prefix = f".{target.name}.{os.getpid()}."
    temporary = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent)) / target.name
    try:
        yield temporary
        _replace(temporary, target)
    finally:
        shutil.rmtree(temporary.parent, ignore_errors=True)


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
