"""A dense layer of the pipeline's own trained network as the neuron set: the right weights, and merging it."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ibpipe.data.datasets import load_dataset
from ibpipe.io.files import open_netcdf
from ibpipe.io.weights import write_weights
from ibpipe.neurons.pipeline import PipelineEvaluator, build_with, dense_layer_keys, load_state
from ibpipe.nn.architectures import build_model, model_spec
from ibpipe.nn.training import train_epochs
from ibpipe.nn.trials import with_trial_axis

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "stages"))
import bootstrap  # noqa: E402
import neuron_source  # noqa: E402

SPEC = model_spec("mlp", (12,), 2, widths=[6, 4], activation="tanh")
PIPELINE_PARAMS = {
    "dataset": {"name": "tishby12", "test_fraction": 0.2, "split_seed": 0, "root": "auto", "download": False},
    "train": {"epochs": 3, "batch_size": 512, "learning_rate": 1.0e-2, "seed": 0},
}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "weights.zarr"
    data = load_dataset("tishby12", 0.2, 0)
    torch.manual_seed(0)
    model = build_model(SPEC)
    x, y = torch.from_numpy(data.inputs), torch.from_numpy(data.labels)
    train, test = torch.from_numpy(data.train_rows), torch.from_numpy(data.test_rows)
    records = train_epochs(model, (x[train], y[train]), (x[test], y[test]), 3, 512, 1.0e-2, 0)
    write_weights(
        path, [(range(1), with_trial_axis(records))], 4, 1, {"model": SPEC, "params": json.dumps(PIPELINE_PARAMS)}
    )
    return path


def _params(tmp_path: Path, **bootstrap_keys) -> Path:
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    raw["neurons"]["bootstrap"].update(bootstrap_keys)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_pipeline_source_reads_the_layer_of_the_last_epoch(weights, tmp_path):
    import zarr

    params = _params(tmp_path, source="pipeline", layer="hidden2", replicas=2, scheduler="synchronous")
    neuron_source.main(params, weights, tmp_path / "source")
    stored = zarr.open_group(weights, mode="r")["weights"]
    final = load_state(tmp_path / "source" / "final")
    keys = dense_layer_keys(build_with(SPEC, final), SPEC, "hidden2")
    assert keys == ("layers.hidden2.0.weight", "layers.hidden2.0.bias", "layers.output.weight", "layers.output.bias")
    for key in keys:
        assert np.array_equal(final[key], stored[key][0, -1])
    assert np.array_equal(load_state(tmp_path / "source" / "initial")[keys.w_in], stored[keys.w_in][0, 0])
    bootstrap.main(params, tmp_path / "source", tmp_path / "bootstrap.nc")
    layers = open_netcdf(tmp_path / "bootstrap.nc")
    assert np.array_equal(layers.reference_w_in.values, stored["layers.hidden2.0.weight"][0, -1])
    assert np.array_equal(layers.reference_w_out.values, stored["layers.output.weight"][0, -1])
    assert layers.replica_w_in.shape == (2, 4, 6)


def test_own_source_output_does_not_depend_on_the_weights(weights, tmp_path):
    params = _params(tmp_path, source="own")
    neuron_source.main(params, weights, tmp_path / "a")
    neuron_source.main(params, tmp_path / "absent.zarr", tmp_path / "b")
    assert (tmp_path / "a" / "source.json").read_bytes() == (tmp_path / "b" / "source.json").read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["source.json"]


def test_merging_a_pipeline_layer_counts_the_removed_neurons(weights, tmp_path):
    neuron_source.main(_params(tmp_path, source="pipeline", layer="hidden1"), weights, tmp_path / "source")
    final = load_state(tmp_path / "source" / "final")
    data = load_dataset("tishby12", 0.2, 0)
    evaluator = PipelineEvaluator(SPEC, final, "hidden1", data.inputs[data.test_rows], data.labels[data.test_rows])
    rows = np.concatenate([final["layers.hidden1.0.weight"], final["layers.hidden1.0.bias"][:, None]], axis=1)
    same, count = evaluator.evaluate(np.arange(6), rows)
    assert same == evaluator.full_scores and count == evaluator.params_full == 12 * 6 + 6 + 6 * 4 + 4 + 4 * 2 + 2
    merged, count = evaluator.evaluate(np.array([0, 0, 1, 1, 1, 2]), rows[[0, 2, 5]])
    # Three neurons left: three fewer rows of 12 + 1 incoming and 4 outgoing numbers.
    assert count == evaluator.params_full - 3 * (12 + 1 + 4) and 0 <= merged["accuracy"] <= 1
