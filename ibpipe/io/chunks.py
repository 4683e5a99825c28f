"""Stores that know what they hold: the chunk files a writer wrote, recorded when it completes the store.

Zarr reads a chunk that is not there as the fill value (zeros), and the codecs' checksums cover the
bytes of a chunk, not its absence: a deleted or emptied chunk file would be read as numbers. So the
writer records, in the root attr ``chunks``, every chunk file of the finished store with its size and
CRC-32 (``record_chunks``), and readers open stores through ``CheckedStore``, which checks each chunk
it reads against that record:

- a recorded chunk that is absent, empty, of another size or (read whole) of another CRC-32 is an error;
- a chunk file that was not recorded (one the writer never wrote because it held only the fill value,
  and something put there since) is an error too;
- a chunk neither recorded nor present is the fill value, as its writer meant.

A shard read in parts (byte ranges) is checked by size, once per reader; its inner chunks and index
carry their own CRC-32C codecs for the bytes. ``python -m ibpipe verify`` checks every chunk whole.
Stores written before chunks were recorded are read unchecked (and ``verify`` reports them).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import WrapperStore

from ibpipe.errors import StoreError
from ibpipe.io.attrs import CHUNKS_ATTR

METADATA_FILE = "zarr.json"


def array_of(key: str) -> str:
    """The array a chunk key belongs to: 'hidden1/code/c/0/0/0' -> 'hidden1/code'."""
    if key.endswith("/c") or key == "c":
        return key[:-2] or "/"
    return key.split("/c/", 1)[0] if "/c/" in key else key.rsplit("/", 1)[0]


def checksum(data: bytes) -> int:
    return zlib.crc32(data)


def is_chunk(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name != METADATA_FILE and not name.startswith(".")


def local_chunk_files(root: str | Path) -> Iterator[tuple[str, Path]]:
    """(key, file) of every chunk file under a local store's folder."""
    root = Path(root)
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            key = path.relative_to(root).as_posix()
            if is_chunk(key):
                yield key, path


def chunk_record(files: Mapping[str, bytes] | Iterator[tuple[str, bytes]]) -> dict[str, Any]:
    """The ``chunks`` attr of a store holding ``files`` (key -> bytes)."""
    items = files.items() if isinstance(files, Mapping) else files
    recorded = {key: [len(data), checksum(data)] for key, data in sorted(items)}
    return {"count": len(recorded), "files": recorded}


def local_chunk_record(root: str | Path) -> dict[str, Any]:
    return chunk_record((key, path.read_bytes()) for key, path in local_chunk_files(root))


def chunk_problem(key: str, data: bytes | None, recorded: Mapping[str, list[int]]) -> str | None:
    """What is wrong with ``data`` (None: absent) as the chunk ``key`` the writer recorded ("chunk 'k' is
    missing"); None when it is right."""
    expected = recorded.get(key)
    problem = None
    if expected is None:
        problem = None if data is None else "is a file its writer did not write"
    elif data is None:
        problem = "is missing"
    elif not data:
        problem = "is empty (0 bytes)"
    elif len(data) != expected[0]:
        problem = f"holds {len(data)} bytes where its writer wrote {expected[0]}"
    elif checksum(data) != expected[1]:
        problem = "does not match the checksum its writer recorded"
    return None if problem is None else f"chunk {key!r} {problem}"


def recorded_files(attributes: Mapping[str, Any]) -> dict[str, list[int]] | None:
    """{key: [bytes, CRC-32]} from a store's root attrs; None for a store written without a record."""
    record = attributes.get(CHUNKS_ATTR)
    return None if record is None else dict(record["files"])


class CheckedStore(WrapperStore):
    """A read-only view of a store that checks every chunk it hands out against the writer's record."""

    def __init__(self, store, recorded: Mapping[str, list[int]] | None = None, describe: Callable[[str], str] = str):
        """``describe(problem)``: the one-line message (naming the store and its rebuild command) to raise."""
        super().__init__(store)
        self._recorded = recorded
        self._describe = describe
        self._sized: set[str] = set()

    def _with_store(self, store):
        return type(self)(store, self._recorded, self._describe)

    def _check(self, key: str, data: bytes | None, recorded: Mapping[str, list[int]]) -> None:
        problem = chunk_problem(key, data, recorded)
        if problem is not None:
            raise StoreError(self._describe(array_of(key), problem))

    async def _record(self, prototype: BufferPrototype) -> Mapping[str, list[int]] | None:
        if self._recorded is None:
            metadata = await self._store.get(METADATA_FILE, prototype)
            attributes = json.loads(metadata.to_bytes()).get("attributes", {}) if metadata is not None else {}
            self._recorded = recorded_files(attributes) or {}
        return self._recorded

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        buffer = await self._store.get(key, prototype, byte_range)
        if not is_chunk(key):
            return buffer
        recorded = await self._record(prototype)
        if not recorded:  # a store written before chunks were recorded
            return buffer
        if byte_range is None:
            self._check(key, None if buffer is None else buffer.to_bytes(), recorded)
        elif key not in self._sized:
            size = None if buffer is None else await self._store.getsize(key)
            if size is not None and key in recorded and size == recorded[key][0]:
                self._sized.add(key)
            else:
                self._check(key, None if size is None else b"\0" * size, recorded)
        return buffer
