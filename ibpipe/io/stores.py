"""Where a Zarr store lives (a local path or an fsspec URL) and how it is written and read safely.

Locations: a path (``data/codes.zarr``) or an fsspec URL (``s3://bucket/run/codes.zarr``,
``gs://...``, ``memory://...``, ``file:///...``), so Dask workers that share no filesystem
can read the stores. Credentials and endpoints come from the environment the way fsspec
and the cloud SDKs read them (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ``FSSPEC_S3_*``).

Commit scheme (a killed writer never leaves a store that looks finished):

- on a local disk the store is built under a temporary name beside the target and renamed
  into place (``ibpipe.io.files.atomic_path``);
- object stores have no rename, and copying a prefix is neither atomic nor cheap, so the
  writer first deletes the target prefix, writes the store in place, and sets the root attr
  ``complete`` last. Readers of a URL refuse a store without it. A reader may therefore see
  "incomplete" while a writer runs, never a half-written store taken for a whole one.

Either way the writer records every chunk file it wrote, with its size and CRC-32, in the root attr
``chunks`` as it completes the store, and ``open_store`` hands out a group whose every chunk read is
checked against that record (``ibpipe.io.chunks``): a chunk deleted, emptied or replaced afterwards
is an error, never zeros. ``verify_store`` checks a whole store (``python -m ibpipe verify``).

Read failures (a corrupt or truncated chunk, missing metadata) become one ``StoreError``
line naming the store, the array and the commands that restore it: ``dvc checkout --force`` (from
the DVC cache) or ``dvc repro -f -s STAGE`` (recompute), the stage found in the ``dvc.yaml``
of the project that holds the store.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import zarr

from ibpipe.errors import MissingFileError, StoreError, UserError
from ibpipe.io.attrs import CHUNKS_ATTR, COMPLETE_ATTR
from ibpipe.io.chunks import (
    CheckedStore,
    array_of,
    chunk_problem,
    chunk_record,
    is_chunk,
    local_chunk_files,
    local_chunk_record,
    recorded_files,
)
from ibpipe.io.files import atomic_path


def is_url(location: str | Path) -> bool:
    """True for an fsspec URL (``scheme://...``), false for a local path."""
    return "://" in str(location)


def store_location(location: str | Path) -> str:
    """The location as workers elsewhere can open it: URLs unchanged, paths made absolute."""
    return str(location) if is_url(location) else str(Path(location).resolve())


def open_store(location: str | Path, mode: str = "r") -> zarr.Group:
    """Open a finished store for reading (``mode="r"``: every chunk read is checked against the writer's
    record) or in-place edits (``"r+"``, unchecked)."""
    if is_url(location):
        with reading(location):
            root = zarr.open_group(str(location), mode=mode)
            complete = root.attrs.get(COMPLETE_ATTR, False)
        if not complete:
            raise StoreError(f"{location} is incomplete (its writer did not finish); {rebuild_hint(location)}")
    else:
        path = Path(location)
        if not path.exists():
            raise MissingFileError(f"{path} does not exist; run the stage that writes it first (dvc repro)")
        with reading(location):
            root = zarr.open_group(path, mode=mode)
    recorded = recorded_files(root.attrs)
    if mode != "r" or recorded is None:
        return root
    from zarr.core.group import AsyncGroup
    from zarr.storage import StorePath

    checked = CheckedStore(root.store, recorded, functools.partial(_chunk_message, location))
    return zarr.Group(AsyncGroup(metadata=root.metadata, store_path=StorePath(checked)))


@contextlib.contextmanager
def new_store(location: str | Path) -> Iterator[zarr.Group]:
    """Yield an empty root group; on success it becomes the store at ``location`` (see the commit scheme)."""
    if not is_url(location):
        with atomic_path(location) as temporary:
            root = zarr.open_group(temporary, mode="w")
            yield root
            root.attrs[CHUNKS_ATTR] = local_chunk_record(temporary)
        return
    import fsspec

    filesystem, path = fsspec.core.url_to_fs(str(location))
    if filesystem.exists(path):
        filesystem.rm(path, recursive=True)
    root = zarr.open_group(str(location), mode="w")
    yield root
    root.attrs[CHUNKS_ATTR] = chunk_record(_url_chunks(filesystem, path))
    root.attrs[COMPLETE_ATTR] = True


def _url_chunks(filesystem, path: str) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of every chunk file of the store at ``path`` on an fsspec filesystem."""
    prefix = path.rstrip("/") + "/"
    for found in filesystem.find(path):
        key = found[len(prefix) :] if found.startswith(prefix) else found
        if is_chunk(key):
            yield key, filesystem.cat_file(found)


def verify_store(location: str | Path) -> tuple[bool, str]:
    """(intact, one line): whether the store is complete with every chunk the one its writer recorded (each read
    whole), and a line naming the store, or, when it is not, the store, the array, the chunk and the command
    that rebuilds it."""
    try:
        root = zarr.open_group(str(location), mode="r") if is_url(location) else _open_local(location)
        attributes = dict(root.attrs)
    except UserError as error:
        return False, str(error)
    except Exception as error:  # unreadable metadata
        return (
            False,
            f"{_shown(location)}: its metadata cannot be read ({type(error).__name__}); {rebuild_hint(location)}",
        )
    recorded = recorded_files(attributes)
    if recorded is None:
        return (
            False,
            f"{_shown(location)} has no record of its chunks (written before stores kept one, or never finished); "
            f"{rebuild_hint(location)}",
        )
    if is_url(location):
        import fsspec

        filesystem, path = fsspec.core.url_to_fs(str(location))
        present = dict(_url_chunks(filesystem, path))
    else:
        present = {key: file.read_bytes() for key, file in local_chunk_files(location)}
    for key in sorted(set(recorded) | set(present)):
        problem = chunk_problem(key, present.get(key), recorded)
        if problem is not None:
            return False, _chunk_message(location, array_of(key), problem)
    return True, f"{_shown(location)}: complete, {len(recorded)} chunks as written"


def _open_local(location: str | Path) -> zarr.Group:
    path = Path(location)
    if not path.is_dir():
        raise MissingFileError(f"{path} does not exist; run the stage that writes it (dvc repro)")
    return zarr.open_group(path, mode="r")


def _chunk_message(location: str | Path, array: str, problem: str) -> str:
    return f"array {array!r} of {_shown(location)}: {problem}; {rebuild_hint(location)}"


def _open_local(location: str | Path) -> zarr.Group:
    path = Path(location)
    if not path.is_dir():
        raise MissingFileError(f"{path} does not exist; run the stage that writes it first (dvc repro)")
    return zarr.open_group(path, mode="r")


@contextlib.contextmanager
def reading(location: str | Path, array: str | None = None) -> Iterator[None]:
    """Turn any failure to decode the store (checksums, truncation, bad metadata) into a ``StoreError``.

    User errors pass through; the original error's text is kept in the one-line message.
    """
    try:
        yield
    except UserError:
        raise
    except Exception as error:  # zarr and its codecs raise ValueError, RuntimeError, KeyError, OSError, ...
        what = f"array {array!r} of {_shown(location)}" if array else f"{_shown(location)}"
        reason = " ".join(str(error).split()) or type(error).__name__
        raise StoreError(
            f"{what} cannot be read, the store is corrupt or truncated ({type(error).__name__}: {reason[:200]}); "
            f"{rebuild_hint(location)}"
        ) from None


def store_of(root: zarr.Group) -> str:
    """The location (path or URL) of the store that holds ``root``, for messages."""
    store = root.store
    while isinstance(store, CheckedStore):
        store = store._store
    if isinstance(store, zarr.storage.LocalStore):
        return str(store.root)
    protocol = getattr(getattr(store, "fs", None), "protocol", "store")
    protocol = protocol[0] if isinstance(protocol, tuple | list) else protocol
    return f"{protocol}://{getattr(store, 'path', '')}"


def rebuild_hint(location: str | Path) -> str:
    """What restores the store: ``dvc checkout`` and ``dvc repro -f`` of the stage that writes it."""
    if is_url(location):
        return "rerun the stage that writes it with the same URL"
    found = _dvc_output(Path(location))
    if found is None:
        return "rerun the stage that writes it (dvc repro -f -s STAGE)"
    out, stage = found
    return f"restore it with `dvc checkout --force {out}` or recompute it with `dvc repro -f -s {stage}`"


def _shown(location: str | Path) -> str:
    if is_url(location):
        return str(location)
    found = _dvc_output(Path(location))
    return str(location) if found is None else found[0]


def _dvc_output(path: Path) -> tuple[str, str] | None:
    """(output as dvc.yaml spells it, stage) for a store inside a DVC project, found from the store upwards."""
    import yaml

    path = path.resolve()
    for project in path.parents:
        pipeline = project / "dvc.yaml"
        if not pipeline.is_file():
            continue
        relative = path.relative_to(project).as_posix()
        try:
            stages = (yaml.safe_load(pipeline.read_text()) or {}).get("stages", {})
        except (OSError, yaml.YAMLError):
            return None
        for stage, definition in stages.items():
            outs = [next(iter(out)) if isinstance(out, dict) else out for out in definition.get("outs", [])]
            if relative in outs:
                return relative, stage
        return None
    return None
