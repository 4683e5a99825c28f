import os

import numpy as np
import pytest

os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(project, arrays of its outputs): the whole pipeline at its smallest, run once with `dvc repro`.

    Tests may break its stores but must leave it as they found it (`dvc status` clean).
    """
    from test_pipeline import _repro
    from tiny_pipeline import stored_arrays, tiny_project

    root = tiny_project(tmp_path_factory.mktemp("tiny"))
    _repro(root)
    return root, stored_arrays(root)


@pytest.fixture
def estimate_params():
    """``make(*estimators, **keys)``: an estimate section, without dimensions or a row cap unless asked."""
    from ibpipe.config.estimate import EstimateParams

    def make(*estimators: str, **keys):
        return EstimateParams(**{"estimators": list(estimators), "dimensions": [], "max_pairwise_samples": 0, **keys})

    return make
