import numpy as np
import pytest

from ibpipe.parallel import dask_client, run_tasks


def _square_plus(value, *, offset):
    return value * value + offset.sum()


def test_run_tasks_keeps_task_order_with_and_without_a_cluster():
    tasks = [(v,) for v in range(7)]
    shared = {"offset": np.ones(3)}
    expected = [v * v + 3 for v in range(7)]
    with dask_client("synchronous") as client:
        assert client is None
        assert run_tasks(client, _square_plus, tasks, shared, "sync") == expected
    with dask_client("threads", workers=2) as client:
        assert run_tasks(client, _square_plus, tasks, shared, "threads") == expected


@pytest.mark.slow
def test_local_scheduler_joins_the_cluster_named_by_dask_scheduler_address(monkeypatch):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        with dask_client("local", workers=2) as client:
            assert client.scheduler.address == cluster.scheduler_address
            assert run_tasks(client, _square_plus, [(2,)], {"offset": np.zeros(1)}, "remote") == [4]
        with dask_client(cluster.scheduler_address) as client:
            assert client.scheduler.address == cluster.scheduler_address


def _environment_of_this_worker():
    import os

    return {
        name: os.environ.get(name)
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_ARENA_MAX", "MALLOC_TRIM_THRESHOLD_")
    }


@pytest.mark.slow
def test_local_process_workers_get_one_thread_and_one_malloc_arena(monkeypatch):
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # conftest sets them for the suite: the library must
        monkeypatch.delenv(name, raising=False)
    with dask_client("local", workers=1) as client:
        environment = client.submit(_environment_of_this_worker, pure=False).result()
    assert environment == {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "1",
        "MALLOC_TRIM_THRESHOLD_": None,
    }


def _fails_for_three(value, *, offset):
    from ibpipe.errors import StoreError

    if value == 3:
        raise StoreError("data/codes.zarr is corrupt")
    return value + offset.sum()


def _crashes(value, *, offset):
    raise ZeroDivisionError("a bug")


def test_a_user_error_in_a_task_reaches_the_caller_as_itself_without_a_worker_task_dump(capfd):
    from ibpipe.errors import StoreError

    tasks = [(v,) for v in range(6)]
    for scheduler in ("synchronous", "threads"):
        with dask_client(scheduler, workers=2) as client, pytest.raises(StoreError, match=r"codes\.zarr is corrupt"):
            run_tasks(client, _fails_for_three, tasks, {"offset": np.zeros(1)}, None)
    assert "Compute Failed" not in capfd.readouterr().err
    # A programming error stays a failed task with its own type.
    with dask_client("threads", workers=1) as client, pytest.raises(ZeroDivisionError):
        run_tasks(client, _crashes, tasks, {"offset": np.zeros(1)}, None)
