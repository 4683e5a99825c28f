"""Hostile resources: addresses without a Dask scheduler, more workers than the machine has, empty data files.

Each is refused (or lowered) in seconds with a sentence naming the setting or the file, never a
traceback after the timeout of a library.
"""

import gzip
import socket
import threading
import time
import warnings

import numpy as np
import pytest

from ibpipe import parallel
from ibpipe.data.idx import IDX_FILES, load_idx_dataset, read_idx
from ibpipe.errors import InputError, UserError
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
