"""Dask clients for the stages that fan work out, and a progress bar that works with all of them.

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

from tqdm.auto import tqdm

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

    address = scheduler if "://" in scheduler else os.environ.get(ADDRESS_VARIABLE) if scheduler == "local" else None
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


def run_tasks(client: Any, function: Callable, tasks: Sequence[tuple], shared: dict[str, Any], description: str) -> list:
    """Call ``function(*task, **shared)`` for every task; results in task order, with a progress bar.

    ``shared`` values (labels, ids) are sent to each worker once, not once per task.
    """
    bar = tqdm(total=len(tasks), desc=description, unit="task")
    if client is None:
        results = []
        for task in tasks:
            results.append(function(*task, **shared))
            bar.update()
        bar.close()
        return results
    from distributed import as_completed

    scattered = {name: client.scatter(value, broadcast=True) for name, value in shared.items()}
    futures = [client.submit(function, *task, **scattered, pure=False) for task in tasks]
    for _ in as_completed(futures):
        bar.update()
    bar.close()
    return client.gather(futures)
