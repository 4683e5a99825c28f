"""Hostile resources: addresses without a Dask scheduler, more workers than the machine has, empty data files.

Each is refused (or lowered) in seconds with a sentence naming the setting or the file, never a
traceback after the timeout of a library.
"""

import gzip
import shutil
import socket
import threading
import time
import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import pytest

from ibpipe import parallel
from ibpipe.data.idx import IDX_FILES, load_idx_dataset, read_idx
from ibpipe.errors import InputError, OutputError, UserError
from ibpipe.io.weights import read_weights, write_weights
from ibpipe.parallel import dask_client


def _listener(payload: bytes | None) -> tuple[str, socket.socket]:
    """A TCP listener on a free port that sends ``payload`` to each connection (None: closes nothing, says nothing)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)
            if payload is not None:
                connection.sendall(payload)

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}", server


def _refused_address() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    return f"tcp://127.0.0.1:{port}"


# (case, the listener's answer or "refused", words the error must hold)
SCHEDULERS = [
    ("a refused address", "refused", ["estimate.scheduler = ", "no Dask scheduler at", "refused", "scheduler: local"]),
    ("an HTTP server", b"HTTP/1.1 200 OK\r\n\r\nhello", ["does not speak Dask's protocol", "b'HTTP/1.1'"]),
    ("a silent listener", None, ["nothing answered within 1 s"]),
    ("a listener that hangs up", b"", ["does not speak Dask's protocol"]),
]


@pytest.mark.parametrize(("case", "answer", "named"), SCHEDULERS, ids=[case for case, _, _ in SCHEDULERS])
def test_a_scheduler_address_without_a_dask_scheduler_is_one_user_error_within_seconds(
    monkeypatch, case, answer, named
):
    monkeypatch.setattr(parallel, "CONNECT_SECONDS", 1.0)
    server = None
    if answer == "refused":
        address = _refused_address()
    elif answer == b"":  # accepts, then closes at once
        address, server = _hang_up_listener()
    else:
        address, server = _listener(answer)
    start = time.monotonic()
    try:
        with pytest.raises(UserError) as caught, dask_client(address, key="estimate.scheduler"):
            pass
    finally:
        if server is not None:
            server.close()
    assert time.monotonic() - start < 5
    message = str(caught.value)
    assert address in message, message
    for words in named:
        assert words in message, (case, message)


def _hang_up_listener() -> tuple[str, socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}", server


def test_the_scheduler_variable_is_named_when_it_points_nowhere(monkeypatch):
    address = _refused_address()
    monkeypatch.setenv(parallel.ADDRESS_VARIABLE, address)
    named = f"DASK_SCHEDULER_ADDRESS={address}: no Dask scheduler"
    with pytest.raises(UserError, match=named), dask_client("local", 1):
        pass


def test_more_workers_than_cores_are_capped_with_a_warning_naming_the_setting(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    affords = r"estimate\.workers = 256 is more than this machine affords \(1 cores"
    client_of = dask_client("threads", 256, key="estimate.scheduler")
    with pytest.warns(UserWarning, match=affords) as caught, client_of as client:
        assert len(client.scheduler_info()["workers"]) == 1
    assert any("set estimate.workers to 1 or less" in str(warning.message) for warning in caught)


def test_workers_whose_tasks_exceed_the_available_memory_are_capped(monkeypatch):
    import psutil

    memory = psutil.virtual_memory()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory._replace(available=3 * 2**30))
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    with pytest.warns(UserWarning, match=r"ae\.workers = 8 is more than .* 3\.0 GB available at 1280 MB a worker"):
        assert parallel.affordable_workers(8, "ae.workers", task_bytes=2**30) == 2


def test_workers_the_machine_affords_are_started_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert parallel.affordable_workers(1, "select.workers") == 1


def _idx(shape: tuple[int, ...]) -> bytes:
    header = bytes([0, 0, 0x08, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()
    return header + bytes(int(np.prod(shape)))


@pytest.mark.parametrize("gzipped", [False, True])
def test_an_idx_file_with_0_images_is_an_error_naming_the_file(tmp_path, gzipped):
    shapes = {"train_images": (0, 28, 28), "train_labels": (0,), "test_images": (2, 28, 28), "test_labels": (2,)}
    for key, shape in shapes.items():
        name = tmp_path / (IDX_FILES[key] + (".gz" if gzipped else ""))
        name.write_bytes(gzip.compress(_idx(shape)) if gzipped else _idx(shape))
    with pytest.raises(InputError) as caught:
        load_idx_dataset(tmp_path)
    assert f"{IDX_FILES['train_images']}" in str(caught.value) and "holds 0 images" in str(caught.value)
    assert "(0, 28, 28)" in str(caught.value)
    (tmp_path / "labels").write_bytes(_idx((0,)))
    with pytest.raises(InputError, match=r"labels: holds 0 labels"):
        read_idx(tmp_path / "labels")


@dataclass(eq=False)
class _Record:
    """An epoch's weights as training streams them (weak-referenceable, to count those still held)."""

    epoch: int
    weights: dict
    metrics: dict


def _records(n_epochs: int, n_values: int, alive: weakref.WeakSet, most_alive: list) -> object:
    for epoch in range(n_epochs):
        record = _Record(
            epoch, {"w": np.full((1, n_values), epoch, dtype=np.float64)}, {"train_loss": np.array([1.0 / (epoch + 1)])}
        )
        alive.add(record)
        most_alive[0] = max(most_alive[0], len(alive))
        yield record
        del record


def test_large_weights_are_written_per_chunk_not_buffered_for_the_whole_run(tmp_path):
    # 16 MB an epoch: at most 64 MB (4 epochs) wait in memory, not all 12 epochs (192 MB)
    alive, most_alive = weakref.WeakSet(), [0]
    path = tmp_path / "weights.zarr"
    write_weights(path, [(range(1), _records(12, 2**21, alive, most_alive))], 12, 1, {})
    assert most_alive[0] <= 5, most_alive
    for epoch, weights in read_weights(path, [0, 5, 11]):
        assert np.all(weights["w"] == epoch)


def test_weights_larger_than_the_free_disk_are_refused_before_training(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=2**20))
    alive, most_alive = weakref.WeakSet(), [0]
    path = tmp_path / "weights.zarr"
    with pytest.raises(OutputError) as caught:
        write_weights(path, [(range(1), _records(12, 2**16, alive, most_alive))], 12, 1, {})
    assert most_alive[0] == 1  # refused at the initial weights, before a trained epoch was asked for
    message = str(caught.value)
    for words in (str(path), "1 trial(s) x 12 epochs need ~6.0 MB", "1.0 MB free", "train.epochs", "model.widths"):
        assert words in message, message
    assert not path.exists()


def test_train_refuses_weights_the_disk_cannot_hold_before_building_the_network(tmp_path, monkeypatch):
    from ibpipe.config.model import ModelParams
    from ibpipe.config.train import TrainParams
    from ibpipe.data.datasets import load_dataset
    from ibpipe.infoplane import train

    def never(*args, **kwargs):
        raise AssertionError("work began before the cost check")

    monkeypatch.setattr(train, "check_on_probe_batch", never)
    monkeypatch.setattr(train, "train_trials", never)
    net = ModelParams().model_copy(update={"widths": [4096] * 5})
    fit = TrainParams().model_copy(update={"epochs": 8000, "trials": 3})
    out = tmp_path / "data" / "weights.zarr"
    with pytest.raises(OutputError, match=r"3 trial\(s\) x 8001 epochs need ~6007\.7 GB \(256\.3 MB an epoch\)"):
        train.train_into_store(load_dataset("tishby12"), net, fit, out=str(out), live=tmp_path / "live", params="{}")
    assert not out.exists()
