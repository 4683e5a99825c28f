"""End-to-end runs on image data: `dvc repro` of the digits CNN, and a user's own network through every stage."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from test_pipeline import MAIN_STAGES, TINY_AE, _edit_params, _repro, new_project

from ibpipe.data.datasets import load_dataset
from ibpipe.estimators.plugin import entropy_bits
from ibpipe.io.weights import open_history, read_weights

PROJECT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits_project(tmp_path_factory) -> Path:
    root = new_project(tmp_path_factory.mktemp("digits"))
    _edit_params(root, "dataset", name="digits")
    _edit_params(root, "model", arch="digits-cnn")
    _edit_params(root, "train", epochs=10, batch_size=64, learning_rate=2.0e-3, trials=1)
    _edit_params(root, "select", method="all")
    _edit_params(root, "reduce", preset="thesis-1", n_bins=2)
    _edit_params(root, "estimate", scheduler="synchronous", estimators=["plugin", "miller-madow"], dimensions=[])
    _edit_params(root, "ae", **TINY_AE)
    # The information pipeline only (the neuron-space stages are tested on the 12-bit project).
    assert _repro(root, "plot") == set(MAIN_STAGES)
    return root


def _metrics(root: Path) -> xr.Dataset:
    with xr.open_dataset(root / "reports" / "metrics.nc") as metrics:
        return metrics.load()


def test_digits_cnn_layers_are_pooled_as_the_preset_says_and_states_counted(digits_project):
    metrics = _metrics(digits_project)
    assert metrics.layer.values.tolist() == ["z1", "z2", "output"]
    assert metrics.layer_width.values.tolist() == [8 * 4 * 4, 16 * 2 * 2, 10]
    # thesis-1 on the 8x8 net: z1 (8,4,4) pooled (1,4,4) -> 8 units; z2 (16,2,2) pooled (1,3,3)
    # clipped to (1,2,2) -> 16; output argmax -> 1.
    assert metrics.code_width.values.tolist() == [8, 16, 1]
    assert (metrics.n_states.sel(layer="output") <= 10).all()
    assert np.allclose(metrics.state_ratio, metrics.n_states / 1797)
    assert float(metrics.state_ratio.max()) <= 1.0
    # X is the input max-pooled 4x4 and binarised at 0.5 (the preset), computed here with torch alone.
    images = torch.from_numpy(load_dataset("digits").inputs)
    pooled_inputs = (torch.nn.functional.max_pool2d(images, 4) > 0.5).reshape(len(images), -1).numpy()
    assert metrics.attrs["H_X"] == pytest.approx(entropy_bits(pooled_inputs.astype(np.int64)), abs=1e-12)
    assert json.loads(metrics.attrs["reductions"])["z2"]["pool"] == [1, 2, 2]


def test_digits_cnn_output_learns_the_label(digits_project):
    plugin = _metrics(digits_project).sel(estimator="plugin", layer="output", trial=0)
    i_ty = plugin.I_TY.values
    assert i_ty[-1] > i_ty[0] + 1.0
    assert i_ty[-3:].mean() > i_ty[:3].mean()
    assert float(i_ty.max()) <= _metrics(digits_project).attrs["H_Y"] + 1e-9
    history = open_history(digits_project / "data" / "weights.zarr")
    assert history.test_accuracy.isel(trial=0).values[-1] > 0.8


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", PROJECT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_a_custom_model_from_a_test_module_is_measured_through_every_stage(tmp_path, monkeypatch):
    from custom_model_for_tests import make_image_net

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(11)
    torch.save(make_image_net(channels=4).state_dict(), tmp_path / "start.pt")
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["dataset"]["name"] = "digits"
    params["model"].update(
        arch="custom",
        factory="custom_model_for_tests:make_image_net",
        kwargs={"channels": 4},
        layers={"features": "2", "output": "4"},
        softmax="output",
        checkpoint="start.pt",
    )
    params["train"].update(epochs=3, batch_size=64, learning_rate=2.0e-3)
    params["select"]["method"] = "all"
    params["reduce"]["layers"] = {
        "features": {"pool": [1, 2, 2], "method": "quantile", "n_bins": 2},
        "output": {"method": "argmax"},
    }
    params["estimate"].update(scheduler="synchronous", estimators=["plugin", "kde-upper"])
    params["ae"].update(
        source="layer",
        layer="features",
        n_samples=300,
        dmax=2,
        widths=[8],
        max_epochs=10,
        patience=3,
        scheduler="synchronous",
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for name in ("train", "select_epochs", "dump_activations", "reduce", "estimate", "ae_points", "ae_entropy", "plot"):
        _stage(name)()
    start = torch.load(tmp_path / "start.pt", weights_only=True)
    first = dict(next(read_weights(tmp_path / "data" / "weights.zarr", [0]))[1])
    assert np.array_equal(first["model.0.weight"], start["0.weight"].numpy())  # training began at the checkpoint
    metrics = _metrics(tmp_path)
    assert metrics.layer.values.tolist() == ["features", "output"]
    assert metrics.layer_width.values.tolist() == [4 * 4 * 4, 10] and metrics.code_width.values.tolist() == [16, 1]
    assert metrics.epoch.values.tolist() == [0, 1, 2, 3]
    plugin = metrics.sel(estimator="plugin").isel(trial=0)
    assert (np.log2(1797) + 1e-9 >= plugin.I_XT).all() and (plugin.I_TY >= 0).all()
    assert float(plugin.I_TY.sel(layer="output")[-1]) > float(plugin.I_TY.sel(layer="output")[0])
    assert (tmp_path / "reports" / "figures" / "information_plane_plugin.png").exists()
    # The autoencoder curve of a recorded layer (the custom net's conv features at the last epoch).
    with xr.open_dataset(tmp_path / "reports" / "ae_entropy.nc") as curves:
        assert curves.attrs["source"] == "layer features at epoch 3" and curves.attrs["n_features"] == 64
