import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# The longest test files, longest first. With `--dist loadfile --no-loadscope-reorder` (make test)
# xdist hands out files in collection order, so the end-to-end pipelines start first and the many
# short files fill the other worker around them (longest-first scheduling); the rest keep their order.
LONGEST_FIRST = (
    "test_pipeline.py",
    "test_faults.py",
    "test_examples.py",
    "test_recorder.py",
    "test_compare_pipeline.py",
    "test_pipeline_images.py",
    "test_remote_storage.py",
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
    return np.random.default_rng(20261123)


def built_once(tmp_path_factory, name: str, build) -> Path:
    """A fresh copy of the folder ``build(folder)`` fills, built once per test session.

    Under pytest-xdist the first worker that asks builds it, under a lock, in the session's shared
    temporary folder; every worker then works on its own copy, so one worker's edits never reach another.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return build(tmp_path_factory.mktemp(name))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent
    built, done = shared / name, shared / f"{name}.built"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            build(built)
            done.touch()
    copy = tmp_path_factory.mktemp(name)
    shutil.copytree(built, copy, symlinks=True, dirs_exist_ok=True)
    return copy


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

    root = built_once(tmp_path_factory, "tiny", _built_tiny)
    return root, stored_arrays(root)


@pytest.fixture
def estimate_params():
    """``make(*estimators, **keys)``: an estimate section, without dimensions or a row cap unless asked."""
    from ibpipe.config.estimate import EstimateParams

    def make(*estimators: str, **keys):
        return EstimateParams(**{"estimators": list(estimators), "dimensions": [], "max_pairwise_samples": 0, **keys})

    return make
