"""ibpipe.measure: the metrics the reduce and estimate stages would write for a recorded store, in one call."""

import json
from pathlib import Path

import pytest
import torch
import xarray as xr
from torch import nn

import ibpipe
from ibpipe.errors import MissingFileError, ParamsError
from ibpipe.io.attrs import PARAMS_ATTR

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A Recorder store of a tiny MLP trained three epochs with plain SGD, every epoch recorded."""
    torch.manual_seed(0)
    x = torch.randn(48, 6)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    folder = tmp_path_factory.mktemp("measure") / "run"
    with ibpipe.Recorder(model, ["1", "2"], x, y, folder, schedule="every") as recorder:
        for epoch in range(4):
            if epoch:
                optimiser.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimiser.step()
            recorder.step(epoch)
    return folder


def test_measure_equals_what_the_reduce_and_estimate_stages_write(store, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    import stages.estimate
    import stages.reduce

    plane = ibpipe.measure(store)
    assert {"epoch", "layer", "estimator"} <= set(plane.I_XT.dims)
    assert list(plane.layer.values) == ["1", "2"] and list(plane.epoch.values) == [0, 1, 2, 3]
    assert list(plane.estimator.values) == ["plugin", "miller-madow", "kde-upper", "kde-lower"]
    assert json.loads(plane.attrs[PARAMS_ATTR])["estimate"]["scheduler"] == "threads"

    params = tmp_path / "params.yaml"  # the pipeline's defaults: sections present, no keys set but the scheduler
    params.write_text("reduce: {}\nestimate:\n  scheduler: synchronous\n")
    activations, codes = str(store / "activations.zarr"), str(tmp_path / "codes.zarr")
    stages.reduce.main(params, activations, codes)
    stages.estimate.main(params, codes, activations, tmp_path / "metrics.nc", tmp_path / "metrics.json")
    written = ibpipe.open_metrics(tmp_path / "metrics.nc")
    assert set(plane.data_vars) == set(written.data_vars)
    for name in ("I_XT", "I_TY", "H_T"):
        xr.testing.assert_allclose(plane[name], written[name], rtol=0, atol=1e-12)
    plugin = {"estimator": "plugin"}
    assert (plane.I_XT.sel(plugin).values == written.I_XT.sel(plugin).values).all()
    assert (plane.I_TY.sel(plugin).values == written.I_TY.sel(plugin).values).all()
    ours, theirs = json.loads(plane.attrs[PARAMS_ATTR]), json.loads(written.attrs[PARAMS_ATTR])
    ours["estimate"]["scheduler"] = theirs["estimate"]["scheduler"]
    assert ours == theirs

    # The activations store itself is accepted too, and codes= keeps the codes where asked
    again = ibpipe.measure(store / "activations.zarr", "plugin", codes=tmp_path / "kept.zarr", scheduler="synchronous")
    assert (tmp_path / "kept.zarr").is_dir()
    xr.testing.assert_equal(again.I_XT, plane.I_XT.sel(estimator=["plugin"]))


def test_estimators_and_settings_pass_through_to_the_estimate_section(store):
    plane = ibpipe.measure(
        store, estimators=["plugin"], noise_variance=0.25, reduce={"n_bins": 4}, scheduler="synchronous"
    )
    assert list(plane.estimator.values) == ["plugin"]
    params = json.loads(plane.attrs[PARAMS_ATTR])
    assert params["estimate"]["noise_variance"] == 0.25 and params["estimate"]["estimators"] == ["plugin"]
    assert params["reduce"]["n_bins"] == 4
    coarse = ibpipe.measure(store, estimators=["plugin"], scheduler="synchronous")
    assert json.loads(coarse.attrs[PARAMS_ATTR])["reduce"]["n_bins"] != 4
    assert not (plane.H_T.values == coarse.H_T.values).all()  # fewer bins, fewer states: the setting reached reduce


def test_an_unknown_keyword_names_the_closest_setting(store):
    with pytest.raises(ParamsError, match=r"estimate\.noise_varience: unknown key \(did you mean 'noise_variance'"):
        ibpipe.measure(store, noise_varience=0.1)
    with pytest.raises(ParamsError, match=r"estimate\.estimators = \['plug-in'\]"):
        ibpipe.measure(store, estimators=["plug-in"])
    with pytest.raises(ParamsError, match=r"reduce\.n_binz: unknown key \(did you mean 'n_bins'"):
        ibpipe.measure(store, reduce={"n_binz": 4})


def test_a_missing_store_is_named(tmp_path):
    missing = tmp_path / "no-such-run"
    with pytest.raises(MissingFileError, match=f"{missing}: no activations store there"):
        ibpipe.measure(missing)
    assert isinstance(MissingFileError("x"), ibpipe.UserError)


def test_measure_is_public_api():
    assert "measure" in ibpipe.__all__ and ibpipe.measure.__module__ == "ibpipe.infoplane.measure_store"
