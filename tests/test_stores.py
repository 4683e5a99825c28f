"""Stores at a path or an fsspec URL: the commit scheme, stale temporaries, and one-line read errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
import zarr

from ibpipe.errors import MissingFileError, StoreError
from ibpipe.io.attrs import COMPLETE_ATTR
from ibpipe.io.files import atomic_path, remove_stale_temporaries
from ibpipe.io.layers import open_layer_store, read_array, read_slab
from ibpipe.io.stores import new_store, open_store, rebuild_hint, store_location


def _dead_pid() -> int:
    """The pid of a process that has exited (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_new_writer_removes_the_temporaries_of_killed_writers_and_keeps_live_ones(tmp_path):
    target = tmp_path / "weights.zarr"
    killed = tmp_path / f".weights.zarr.{_dead_pid()}.abc123.tmp"
    legacy = tmp_path / ".weights.zarr.k2j4_x.tmp"  # the name before the pid was recorded
    live = tmp_path / f".weights.zarr.{os.getppid()}.def456.tmp"
    other = tmp_path / f".codes.zarr.{_dead_pid()}.abc.tmp"
    for leftover in (killed, legacy, live, other):
        (leftover / "weights.zarr").mkdir(parents=True)
    with atomic_path(target) as temporary:
        temporary.mkdir()
    assert target.is_dir()
    assert not killed.exists() and not legacy.exists()
    assert live.exists() and other.exists()
    assert remove_stale_temporaries(tmp_path / "codes.zarr") == [other]


def test_a_missing_store_and_a_store_outside_a_project_name_what_to_do(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        open_layer_store(tmp_path / "absent.zarr")
    assert "dvc repro -f -s STAGE" in rebuild_hint(tmp_path / "absent.zarr")


def test_a_corrupt_chunk_names_the_store_the_array_and_the_stage_that_rebuilds_it(tmp_path):
    (tmp_path / "dvc.yaml").write_text("stages:\n  reduce:\n    cmd: x\n    outs:\n      - data/codes.zarr\n")
    location = tmp_path / "data" / "codes.zarr"
    with new_store(location) as root:
        root.create_array("h/code", shape=(4, 100, 3), chunks=(1, 100, 3), dtype="int32")[...] = np.arange(
            1200
        ).reshape(4, 100, 3)
    chunk = location / "h" / "code" / "c" / "2" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:7] + b"\xff" * 9)
    assert read_slab(location, "h", "code", 0, 2).sum() == np.arange(600).sum()
    with pytest.raises(StoreError) as caught:
        read_slab(location, "h", "code", 0, 4)
    message = str(caught.value)
    assert "\n" not in message
    assert "'h/code' of data/codes.zarr" in message
    assert "`dvc checkout --force data/codes.zarr`" in message and "`dvc repro -f -s reduce`" in message


def test_memory_urls_commit_with_a_completion_attr_that_readers_require():
    location = "memory://ibpipe-test/run/codes.zarr"
    with new_store(location) as root:
        root.create_array("epoch", shape=(3,), dtype="int64")[...] = [0, 1, 2]
    assert store_location(location) == location
    assert read_array(open_store(location), "epoch").tolist() == [0, 1, 2]
    # A writer that dies part-way leaves no completion attr: readers refuse the store.
    with pytest.raises(RuntimeError), new_store(location) as root:
        root.create_array("epoch", shape=(3,), dtype="int64")
        raise RuntimeError("killed")
    assert COMPLETE_ATTR not in zarr.open_group(location, mode="r").attrs
    with pytest.raises(StoreError, match="incomplete"):
        open_store(location)
