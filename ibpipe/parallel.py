"""Dask clients for the stages that fan work out, and progress reports that work with all of them.

``scheduler``:
- ``"local"``: a LocalCluster of ``workers`` single-threaded process workers (BLAS and
  OpenMP pinned to one thread each, see ``WORKER_ENVIRONMENT``), unless the environment variable
  DASK_SCHEDULER_ADDRESS names an existing scheduler, which is then used instead;
- ``"threads"``: the same cluster with thread workers in this process;
- ``"synchronous"``: no cluster; tasks run one after another here (debugging, tiny runs);
- an address such as ``"tcp://host:8786"``: an existing cluster. Its workers must see the
  stores at the same paths.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ibpipe.progress import progress

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"
# Set in each worker process before it starts. One BLAS/OpenMP thread per single-threaded
# worker avoids oversubscribing the cores. One malloc arena: tasks run on a worker thread,
# whose own glibc arena maps and unmaps every large numpy temporary; measured here, that
# made a KDE task 1.7x slower than in the main thread (distributed's default
# MALLOC_TRIM_THRESHOLD_ makes it worse, so it is left out).
WORKER_ENVIRONMENT = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1, "MALLOC_ARENA_MAX": 1}


# How long an existing scheduler may take to accept a connection and to greet (seconds each).
CONNECT_SECONDS = 4.0
# What a local worker process costs before any task (interpreter, numpy, distributed): a floor that
# keeps a `workers` far beyond the memory from starting processes until allocation fails.
WORKER_BASE_BYTES = 256 * 2**20
# A Dask handshake frame is a few hundred bytes; a first 8-byte length beyond this is not Dask's.
_LARGEST_GREETING = 2**26


@contextlib.contextmanager
def dask_client(
    scheduler: str = "local", workers: int = 2, key: str = "scheduler", task_bytes: int = 0
) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for ``scheduler``, or ``None`` for synchronous runs.

    ``key`` names the setting in messages (``estimate.scheduler``). An address where no Dask
    scheduler answers within a few seconds is a ``UserError`` naming it; ``workers`` beyond this
    machine's cores, or beyond its available memory at 256 MB a worker plus ``task_bytes`` (the
    peak of one task), is lowered with a warning.
    """
    if scheduler == "synchronous":
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    if "://" in scheduler:
        address, origin = scheduler, f"{key} = {scheduler!r}"
    else:
        address = os.environ.get(ADDRESS_VARIABLE) if scheduler == "local" else None
        origin = f"{ADDRESS_VARIABLE}={address}"
    if address:
        check_scheduler(address, origin)
        try:
            client = Client(address, timeout=2 * CONNECT_SECONDS)
        except (OSError, TimeoutError, MemoryError, ValueError, TypeError) as error:
            raise _not_a_scheduler(origin, address, f"{type(error).__name__}: {error}") from error
        with client:
            yield client
        return
    setting = key.rsplit(".", 1)[0] + ".workers" if "." in key else "workers"
    workers = affordable_workers(workers, setting, task_bytes)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRONMENT}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=scheduler == "local",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    with cluster, Client(cluster) as client:
        yield client


def affordable_workers(workers: int, key: str = "workers", task_bytes: int = 0) -> int:
    """``workers`` lowered to this machine's cores and available memory (``WORKER_BASE_BYTES`` each), with a warning."""
    import warnings

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        import psutil

        memory = int(psutil.virtual_memory().available)
    except ImportError:  # psutil comes with distributed; without it, cores alone
        memory = workers * WORKER_BASE_BYTES
    per_worker = WORKER_BASE_BYTES + max(int(task_bytes), 0)
    limit = max(1, min(cores, memory // per_worker))
    if workers <= limit:
        return workers
    warnings.warn(
        f"{key} = {workers} is more than this machine affords ({cores} cores, {memory / 2**30:.1f} GB available at "
        f"{per_worker / 2**20:.0f} MB a worker): starting {limit} workers; set {key} to {limit} or less",
        UserWarning,
        stacklevel=4,  # the `with dask_client(...)` line
    )
    return limit


def check_scheduler(address: str, origin: str) -> None:
    """A ``UserError`` within seconds unless a Dask scheduler greets at a ``tcp://`` ``address``.

    A Dask listener sends its handshake first, an 8-byte frame length and a small frame; a refused
    or silent port, or one that answers with anything else (an HTTP server), is named with the fix.
    Other protocols (tls, ucx) are left to the client.
    """
    import socket
    import struct
    from urllib.parse import urlsplit

    address = address if "://" in address else f"tcp://{address}"  # Dask's default protocol
    if not address.startswith("tcp://"):
        return
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise _not_a_scheduler(origin, address, f"not a host:port address ({error})") from error
    if not host or not port:
        raise _not_a_scheduler(origin, address, "not a tcp://host:port address")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS) as connection:
            connection.settimeout(CONNECT_SECONDS)
            greeting = b""
            while len(greeting) < 8:
                more = connection.recv(8 - len(greeting))
                if not more:
                    break
                greeting += more
    except TimeoutError:
        raise _not_a_scheduler(origin, address, f"nothing answered within {CONNECT_SECONDS:.0f} s") from None
    except OSError as error:
        raise _not_a_scheduler(origin, address, error.strerror or str(error)) from None
    if len(greeting) < 8 or not 0 < struct.unpack("<Q", greeting)[0] <= _LARGEST_GREETING:
        why = f"the listener there does not speak Dask's protocol (it sent {greeting!r})"
        raise _not_a_scheduler(origin, address, why)


def _not_a_scheduler(origin: str, address: str, why: str) -> Exception:
    from ibpipe.errors import UserError

    return UserError(
        f"{origin}: no Dask scheduler at {address} ({why}); start one there (`dask scheduler`), correct the address, "
        "or use scheduler: local"
    )


def share(client: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Send ``values`` to the workers once; pass the result as ``shared`` to many ``run_tasks`` calls."""
    if client is None:
        return dict(values)
    # Only arrays travel ahead of the tasks (a dict would become a dict of futures). Each becomes
    # the result of a small task of its own rather than scattered data: Dask recomputes a lost
    # task result when the only worker holding it dies, but forgets lost scattered data and
    # cancels every task that needs it (a killed worker then failed the whole stage; the
    # scheduler keeps one replica of scattered data, whatever broadcast asked). pure=False gives
    # fresh keys, so a later call never races the release of an earlier call's data.
    return {
        name: client.submit(_identity, value, pure=False) if isinstance(value, np.ndarray) else value
        for name, value in values.items()
    }


def _identity(value: Any) -> Any:
    return value


def run_tasks(
    client: Any, function: Callable, tasks: Sequence[tuple], shared: dict[str, Any], description: str | None
) -> list:
    """Call ``function(*task, **shared)`` for every task; results in task order, with progress (``ibpipe.progress``).

    ``shared`` arrays (labels, ids) are sent to each worker once, not once per task; pass
    the result of ``share`` to send them once for many calls.
    ``description=None`` reports no progress (for many small batches).

    A ``UserError`` raised in a task (a corrupt store, say) comes back as a value, not as a
    failed task: the workers log no task dump for it, the remaining tasks are cancelled and
    the error is raised here, where the stage turns it into one line. Any other exception
    is a failed task and keeps its traceback. Tasks lost with a worker are rerun by Dask.
    """
    bar = progress(total=len(tasks), desc=description, unit="task")
    if client is None:
        results = []
        for task in tasks:
            results.append(function(*task, **shared))
            bar.update()
        bar.close()
        return results
    from distributed import as_completed

    scattered = share(client, shared)
    futures = [client.submit(_reporting_user_errors, function, *task, **scattered, pure=False) for task in tasks]
    position = {future.key: index for index, future in enumerate(futures)}
    results: list = [None] * len(futures)
    try:
        # Results are fetched one by one (not with_results=True, whose pending fetches would fail
        # noisily when a user error closes the cluster early).
        for future in as_completed(futures):
            result = future.result()
            if isinstance(result, _UserFailure):
                raise result.error
            results[position[future.key]] = result
            bar.update()
    finally:
        client.cancel([future for future in futures if not future.done()])
        bar.close()
    return results


class _UserFailure:
    """A task's ``UserError``, carried back as a result so the worker does not log it as a crash."""

    def __init__(self, error: Exception):
        self.error = error


def _reporting_user_errors(function: Callable, *args, **kwargs):
    from ibpipe.errors import UserError

    try:
        return function(*args, **kwargs)
    except UserError as error:
        return _UserFailure(error)
