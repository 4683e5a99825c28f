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


@contextlib.contextmanager
def dask_client(scheduler: str = "local", workers: int = 2) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for ``scheduler``, or ``None`` for synchronous runs."""
    if scheduler == "synchronous":
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    if "://" in scheduler:
        address = scheduler
    else:
        address = os.environ.get(ADDRESS_VARIABLE) if scheduler == "local" else None
    if address:
        with Client(address) as client:
            yield client
        return
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
