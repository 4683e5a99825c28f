import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# One BLAS/OpenMP thread per process, set before numpy loads (the stage subprocesses inherit it): the suite
# runs two xdist workers on two cores, and two-thread BLAS calls beside another worker spin-wait. The
# estimate stage of the tiny pipeline took 2.3x the CPU seconds with two threads, for bitwise identical
# metrics. Numba's threads are left alone, so its parallel kernels still run in parallel.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

# The longest test files, longest first. With `--dist loadfile --no-loadscope-reorder` (make test)
# xdist hands out files in collection order, so the end-to-end pipelines start first and the many
# short files fill the other worker around them (longest-first scheduling); the rest keep their order.
# test_pipeline.py builds the session's end-to-end project on one worker while test_faults.py builds the
# tiny one on the other; the reproduction recipes' smoke runs (~150 s) come next, then the files that edit
# copies of the project, when it is built.
LONGEST_FIRST = (
    "test_pipeline.py",
    "test_faults.py",
    "test_reproductions.py",
    "test_pipeline_variants.py",
    "test_pipeline_edits.py",
    "test_examples.py",
    "test_recorder.py",
    "test_compare_pipeline.py",
    "test_pipeline_noisy.py",
    "test_pipeline_images.py",
    "test_remote_storage.py",
    "test_verify.py",
    "test_dependencies.py",
    "test_autoencoder.py",
    "test_cluster.py",
    "test_own_data.py",
    "test_estimate_reference.py",
)


def pytest_collection_modifyitems(config, items):
    """Put the files of ``LONGEST_FIRST`` first, in that order; tests within a file keep their order."""
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def rng():
    import numpy as np  # imported here, after the thread settings above

    return np.random.default_rng(20261123)


def built_once(tmp_path_factory, name: str, build, copy: bool = True) -> Path:
    """A fresh copy of the folder ``build(folder)`` fills, built once per test session.

    The first process that asks builds it, under a lock, in the session's shared temporary folder
    (under pytest-xdist every worker's folder sits in it); each caller then works on its own copy, so
    one test module's or worker's edits never reach another. With ``copy=False`` and no xdist workers
    the built folder itself is returned (a session fixture, the only user).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and not copy:
        return build(tmp_path_factory.mktemp(name))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp() if worker is None else tmp_path_factory.getbasetemp().parent
    built, done = shared / f"{name}.shared", shared / f"{name}.built"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            build(built)
            done.touch()
    folder = tmp_path_factory.mktemp(name)
    shutil.copytree(built, folder, symlinks=True, dirs_exist_ok=True)
    return folder


def _built_tiny(root: Path) -> Path:
    from test_pipeline import _repro
    from tiny_pipeline import tiny_project

    tiny_project(root)
    _repro(root)
    return root


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(project, arrays of its outputs): the whole pipeline at its smallest, run once with `dvc repro`.

    Tests may break its stores but must leave it as they found it (`dvc status` clean).
    """
    from tiny_pipeline import stored_arrays

    root = built_once(tmp_path_factory, "tiny", _built_tiny, copy=False)
    return root, stored_arrays(root)


@pytest.fixture(scope="module")
def pipeline_project(tmp_path_factory):
    """The project of the end-to-end tests (12 epochs, 2 trials, every stage and estimator), run once per session.

    Each test module gets its own copy, DVC cache included, so its params edits rerun only the stages they
    touch and never reach another module; the test_pipeline*.py files run side by side on two workers.
    """
    from test_pipeline import build_project

    return built_once(tmp_path_factory, "project", build_project)


@pytest.fixture
def estimate_params():
    """``make(*estimators, **keys)``: an estimate section, without dimensions or a row cap unless asked."""
    from ibpipe.config.estimate import EstimateParams

    def make(*estimators: str, **keys):
        return EstimateParams(**{"estimators": list(estimators), "dimensions": [], "max_pairwise_samples": 0, **keys})

    return make
