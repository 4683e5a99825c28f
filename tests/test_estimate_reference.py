"""Oracle: the estimate stage gives the metrics the code before labelled results gave, bit for bit.

``estimate_reference.json`` holds, per variable and coordinate of the tiny pipeline's metrics.nc,
its dims, dtype and a SHA-256 of its bytes, recorded with the code before the estimate tasks
returned labelled Datasets (when results travelled as positional tuples). Beside it: the same for
a run of every activation estimator with bootstrap intervals on a capped subsample, the run attrs,
the summary metrics.json held then, and a digest of the codes and activations it measured. Another platform may train
other weights; then the inputs differ from the recorded ones and the comparison is skipped.

The KDE bounds' variables (H_T, I_XT, I_TY, their intervals and the peak/final figures made from them)
were re-recorded when narrow layers moved to the compiled pair sweep, which sums in another order: they
differed from the earlier record by less than 5e-14 relative; every other variable kept its bits.

The run attrs are compared key by key: since the rebuild they also hold every scalar setting of the
estimate section (``RUN_ATTRS_ADDED``), the rest are unchanged.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.slow

REFERENCE = Path(__file__).with_name("estimate_reference.json")
INPUT_STORES = ("data/codes.zarr", "data/activations.zarr")
# Every activation estimator, bootstrap intervals, and the pairwise methods on a 200-row subsample.
EVERY_ESTIMATOR = {
    "estimators": ["plugin", "miller-madow", "kde-upper", "kde-lower", "kde-mc", "knn", "renyi"],
    "bootstrap_resamples": 3,
    "max_pairwise_samples": 200,
}
RUN_ATTRS_ADDED = (
    "lga_neighbors",
    "renyi_batch",
    "seed",
    "scheduler",
    "workers",
    "dimension_pairs",
    "max_pairwise_samples",
    "memory_limit",
    "device",
    "neural_steps",
    "neural_batch",
)
# Params keys declared since the reference was recorded (they reach the metrics through the params attr).
PARAMS_KEYS_ADDED = {
    "dataset": ("factory",),
    "train": ("optimizer", "momentum", "weight_decay"),
    "estimate": ("lga_neighbors", "neural_steps", "neural_batch"),
}
# Defaults changed since the reference was recorded that leave the estimate's inputs as they were (the input
# digest is checked first): how many processes shared the trials.
PARAMS_DEFAULTS_CHANGED = {"train": ("processes",)}


def _digest(values: np.ndarray) -> str:
    if values.dtype.kind in "OUS":  # text: netCDF gives objects, a fresh Dataset fixed-width strings
        return hashlib.sha256(json.dumps([str(value) for value in values.ravel()]).encode()).hexdigest()
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()


def dataset_digests(dataset: xr.Dataset) -> dict[str, dict]:
    """dims, dtype (text as "text"), units/long_name and the SHA-256 of the bytes of each variable."""
    return {
        name: {
            "dims": ",".join(variable.dims),
            "dtype": "text" if variable.dtype.kind in "OUS" else str(variable.dtype),
            "attrs": {key: str(value) for key, value in sorted(variable.attrs.items())},
            "sha256": _digest(variable.values),
        }
        for name, variable in sorted(dataset.variables.items())
    }


def run_attrs(dataset: xr.Dataset) -> dict[str, str]:
    return {key: str(value) for key, value in dataset.attrs.items()}


def input_digest(root: Path) -> str:
    from tiny_pipeline import stored_arrays

    arrays = stored_arrays(root)
    parts = [f"{name}:{_digest(arrays[name])}" for name in sorted(arrays) if name.startswith(INPUT_STORES)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def every_estimator_metrics(root: Path) -> xr.Dataset:
    """The estimate run of ``EVERY_ESTIMATOR`` on the project's stores, in this process."""
    import ibpipe
    from ibpipe.infoplane.tasks import estimate_run

    section = ibpipe.load_params(root / "params.yaml").estimate
    params = type(section)(**{**vars(section), **EVERY_ESTIMATOR})
    return estimate_run(params, str(root / INPUT_STORES[0]), str(root / INPUT_STORES[1]), {})


@pytest.fixture(scope="module")
def reference(tiny):
    root, _ = tiny
    recorded = json.loads(REFERENCE.read_text())
    if input_digest(root) != recorded["inputs"]:
        pytest.skip("this platform trained other weights than the recorded run: the estimate inputs differ")
    return root, recorded


def test_the_tiny_pipelines_metrics_are_bitwise_those_recorded_before_labelled_results(reference):
    root, recorded = reference
    with xr.open_dataset(root / "reports" / "metrics.nc") as metrics:
        assert dataset_digests(metrics) == recorded["tiny"]["variables"]
        attrs = run_attrs(metrics)
    assert set(attrs) - set(recorded["tiny"]["attrs"]) == set(RUN_ATTRS_ADDED)
    params, recorded_params = json.loads(attrs.pop("params")), json.loads(recorded["tiny"]["attrs"]["params"])
    for section, keys in PARAMS_KEYS_ADDED.items():
        for key in keys:
            params[section].pop(key)
    for section, keys in PARAMS_DEFAULTS_CHANGED.items():
        for key in keys:
            params[section].pop(key), recorded_params[section].pop(key)
    assert params == recorded_params
    assert {key: attrs[key] for key in recorded["tiny"]["attrs"] if key != "params"} == {
        key: value for key, value in recorded["tiny"]["attrs"].items() if key != "params"
    }
    _assert_summaries_are_the_recorded_ones(root, recorded["tiny"]["summary"])


def _assert_summaries_are_the_recorded_ones(root: Path, summary: dict) -> None:
    """The summary recorded as metrics.json is now two things: metrics.json, the DVC metric, holds the last
    hidden layer's final/peak and verdict code, and ``information_summary`` (what `python -m ibpipe summary`
    prints) the rest; both must give the recorded numbers. (Compared as JSON text: the recorded NaN
    interval bounds of a single trial then compare equal.)"""
    from ibpipe.infoplane.compression import VERDICT_CODES
    from ibpipe.infoplane.metrics import information_summary

    recorded_cell = summary["compression"]["layers"]["hidden5"]
    code = {words: code for code, words in VERDICT_CODES.items()}[recorded_cell["verdict"].split(": ")[1].split(",")[0]]
    metric = {"hidden5": {"final_to_peak": recorded_cell["final_to_peak"][0], "verdict": code}}
    assert json.loads((root / "reports" / "metrics.json").read_text()) == metric
    with xr.open_dataset(root / "reports" / "metrics.nc") as metrics:
        details = information_summary(metrics)
    for layer in details["compression"]["layers"].values():
        layer.pop("code")
    details["compression"].pop("trials")
    details[details.pop("estimator")] = details.pop("layers")
    assert json.dumps(details, sort_keys=True) == json.dumps(summary, sort_keys=True)


def test_every_estimator_with_bootstrap_on_a_capped_subsample_is_bitwise_as_recorded(reference):
    root, recorded = reference
    assert dataset_digests(every_estimator_metrics(root)) == recorded["every_estimator"]["variables"]
