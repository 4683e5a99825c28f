"""Stores that know what they hold: a chunk deleted, emptied or replaced after its writer finished is an error
naming the store, the array, the chunk and the command that rebuilds it, never numbers read as zeros.

The writer records every chunk file (size and CRC-32) as it completes a store; readers check each chunk
they read; `python -m ibpipe verify` checks whole stores (exit 0 intact, 1 with one line per damaged store).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from ibpipe.cli import app
from ibpipe.errors import StoreError
from ibpipe.io.attrs import CHUNKS_ATTR
from ibpipe.io.chunks import local_chunk_files
from ibpipe.io.layers import LayerStoreWriter, read_slab
from ibpipe.io.stores import new_store, open_store, verify_store

DAMAGES = {
    "deleted": lambda path: path.unlink(),
    "emptied": lambda path: path.write_bytes(b""),
    "cut short": lambda path: path.write_bytes(path.read_bytes()[:-3]),
    "swapped": None,  # replaced by another chunk of the same store: valid bytes, wrong place
}


def _store(path: Path) -> Path:
    """A layer store of 6 epochs x 10 samples in shards of 2 epochs x 5 samples, plus an all-zero array."""
    rng = np.random.default_rng(7)
    with new_store(path) as root:
        writer = LayerStoreWriter(
            root,
            "activation",
            shapes={"hidden1": (3,), "hidden2": (2,)},
            epochs=np.arange(6),
            n_samples=10,
            epochs_per_shard=2,
            dtype="float32",
            samples_per_chunk=5,
        )
        for slab in writer.slabs():
            width = {"hidden1": 3, "hidden2": 2}
            writer.write(
                slab, {layer: rng.random((slab.stop - slab.start, 10, w), "float32") for layer, w in width.items()}
            )
        zeros = root.create_array("zeros", shape=(4,), chunks=(2,), dtype="int32")  # only the fill value: no files
        zeros[...] = 0
    return path


def _damage(path: Path, kind: str, rng: np.random.Generator) -> str:
    """Damage one random chunk of the store at ``path`` the way ``kind`` says; return its key."""
    chunks = sorted(local_chunk_files(path))
    key, file = chunks[rng.integers(len(chunks))]
    if DAMAGES[kind] is None:
        other = next(
            other for other_key, other in chunks if other_key != key and other.read_bytes() != file.read_bytes()
        )
        file.write_bytes(other.read_bytes())
    else:
        DAMAGES[kind](file)
    return key


def _read_everything(path: Path) -> None:
    root = open_store(path)
    for layer in ("hidden1", "hidden2"):
        for start in range(0, 6, 2):
            read_slab(path, layer, "activation", start, start + 2)
            read_slab(path, layer, "activation", start, start + 1, rows=np.array([1, 7]))  # parts of shards
    root["zeros"][...]
    root["hidden1/epoch"][...]


def test_a_finished_store_records_every_chunk_it_wrote_and_reads_back_whole(tmp_path):
    path = _store(tmp_path / "s.zarr")
    record = zarr.open_group(path, mode="r").attrs[CHUNKS_ATTR]
    assert record["count"] == len(record["files"]) == len(list(local_chunk_files(path))) > 0
    assert not any(key.startswith("zeros/") for key in record["files"])  # never written: read as the fill value
    _read_everything(path)
    assert verify_store(path) == (True, f"{path}: complete, {record['count']} chunks as written")
    assert (open_store(path)["zeros"][...] == 0).all()


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("kind", list(DAMAGES))
def test_a_damaged_chunk_is_an_error_naming_store_array_and_chunk_never_numbers(tmp_path, kind, seed):
    path = _store(tmp_path / "s.zarr")
    key = _damage(path, kind, np.random.default_rng(seed))
    array = key.split("/c/")[0]
    with pytest.raises(StoreError) as caught:
        _read_everything(path)
    message = str(caught.value)
    assert f"array {array!r} of {path}" in message and f"chunk {key!r}" in message, message
    assert "dvc repro -f -s" in message and "\n" not in message
    intact, line = verify_store(path)
    assert not intact and f"chunk {key!r}" in line and f"array {array!r} of {path}" in line


def test_a_chunk_file_its_writer_never_wrote_is_an_error(tmp_path):
    path = _store(tmp_path / "s.zarr")
    (path / "zeros" / "c").mkdir(parents=True)
    (path / "zeros" / "c" / "1").write_bytes((path / "hidden1" / "epoch" / "c" / "0").read_bytes())
    with pytest.raises(StoreError, match=r"chunk 'zeros/c/1' is a file its writer did not write"):
        open_store(path)["zeros"][...]
    assert not verify_store(path)[0]


def test_verify_prints_one_line_per_store_and_exits_1_when_one_is_damaged(tmp_path):
    intact, damaged = _store(tmp_path / "a.zarr"), _store(tmp_path / "b.zarr")
    key = _damage(damaged, "deleted", np.random.default_rng(0))
    result = CliRunner().invoke(app, ["verify", str(intact)])
    assert result.exit_code == 0 and result.output.startswith(f"ok       {intact}: complete"), result.output
    result = CliRunner().invoke(app, ["verify", str(intact), str(damaged), str(tmp_path / "absent.zarr")])
    lines = result.output.splitlines()
    assert result.exit_code == 1 and len(lines) == 3, result.output
    assert lines[0].startswith("ok ") and lines[1].startswith("damaged ") and f"chunk {key!r} is missing" in lines[1]
    assert lines[2].startswith("damaged ") and "absent.zarr does not exist" in lines[2]


def test_verify_without_a_record_of_chunks_says_so(tmp_path):
    path = _store(tmp_path / "s.zarr")
    root = zarr.open_group(path, mode="r+")
    del root.attrs[CHUNKS_ATTR]
    intact, line = verify_store(path)
    assert not intact and "has no record of its chunks" in line
    _read_everything(path)  # read unchecked, as before stores kept a record


def test_verify_outside_a_project_without_stores_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["verify"])
    assert result.exit_code == 2 and result.output.startswith("error: no dvc.yaml in")


# The chaos test: one random chunk of each store of a tiny run, deleted or emptied; the stage that reads the
# store (run as DVC runs it) must fail with one line naming the store, array, chunk and the stage that rebuilds
# it, and write nothing; `python -m ibpipe verify` names the same chunk. DVC restores the store afterwards.
CHAOS = [
    # (store, its writer stage, chunks the reader reads, the reading stage and its outputs moved to tmp)
    ("data/weights.zarr", "train", "weights/", ["stages/dump_activations.py", "--out", "{tmp}/activations.zarr"]),
    ("data/activations.zarr", "dump-activations", "", ["stages/reduce.py", "--out", "{tmp}/codes.zarr"]),
    (
        "data/codes.zarr",
        "reduce",
        "",
        ["stages/estimate.py", "--out", "{tmp}/metrics.nc", "--summary", "{tmp}/metrics.json"],
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("store", "writer", "read", "reader"), CHAOS, ids=[store for store, *_ in CHAOS])
def test_chaos_one_random_chunk_of_each_store_deleted_or_emptied_is_an_error_never_numbers(
    tiny, tmp_path, store, writer, read, reader
):
    from test_faults import _stage_error
    from test_pipeline import _run

    root, _ = tiny
    rng = np.random.default_rng(sum(map(ord, store)))
    chunks = [(key, file) for key, file in sorted(local_chunk_files(root / store)) if key.startswith(read)]
    chunks = [(key, file) for key, file in chunks if "/epoch/" not in key and not key.startswith(("epoch/", "sample/"))]
    key, file = chunks[rng.integers(len(chunks))]
    kind = ("deleted", "emptied")[rng.integers(2)]
    backup = tmp_path / "backup"
    shutil.copy(file, backup)
    try:
        DAMAGES[kind](file)
        line = _stage_error(root, *[part.format(tmp=tmp_path) for part in reader])
        assert f"of {store}: chunk {key!r}" in line and f"`dvc repro -f -s {writer}`" in line, line
        assert not [path for path in tmp_path.iterdir() if path.name != "backup"]  # nothing written
        verified = _run(root, "python", "-m", "ibpipe", "verify", check=False)
        assert verified.returncode == 1 and f"chunk {key!r}" in verified.stdout, verified.stdout
    finally:
        shutil.copy(backup, file)
    assert _run(root, "python", "-m", "ibpipe", "verify").stdout.count("ok ") == 3


def test_a_store_at_a_url_records_its_chunks_and_a_missing_one_is_an_error():
    import fsspec

    url = "memory://hostile-inputs/run/s.zarr"
    with new_store(url) as root:
        writer = LayerStoreWriter(
            root,
            "activation",
            shapes={"h": (3,)},
            epochs=np.arange(4),
            n_samples=6,
            epochs_per_shard=2,
            dtype="float32",
        )
        for slab in writer.slabs():
            writer.write(slab, {"h": np.ones((slab.stop - slab.start, 6, 3), "float32")})
    assert verify_store(url) == (True, f"{url}: complete, 3 chunks as written")
    fsspec.filesystem("memory").rm("/hostile-inputs/run/s.zarr/h/activation/c/1/0/0")
    with pytest.raises(StoreError, match=r"array 'h/activation' of memory://.*chunk 'h/activation/c/1/0/0' is missing"):
        read_slab(url, "h", "activation", 2, 4)
    assert not verify_store(url)[0]
