"""The pipeline from an external run: examples/external_dvc (your own training script with ibpipe.Recorder as
the first DVC stage, ibpipe's stages after it) reruns only what changed, and the select stage's delta-skip
works on recorded weights of every epoch with the model's factory, and says what it lacks otherwise."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from ibpipe.errors import InputError
from ibpipe.io.layers import layer_names, open_layer_store, read_array

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "external_dvc"


def _copy_example(target: Path, **settings) -> Path:
    """The example in ``target``, its vars pointing at this checkout, train_params.yaml with ``settings``."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("run", "data", "reports", ".dvc", "dvc.lock"))
    pipeline = (target / "dvc.yaml").read_text()
    (target / "dvc.yaml").write_text(pipeline.replace("ibpipe: /path/to/ibpipe", f"ibpipe: {ROOT}"))
    params = yaml.safe_load((target / "train_params.yaml").read_text())
    (target / "train_params.yaml").write_text(yaml.safe_dump({**params, **settings}))
    return target


def _edit(path: Path, section: str, **values) -> None:
    params = yaml.safe_load(path.read_text())
    params.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(params))


def _repro(root: Path) -> str:
    # The recipe's stages call `python`: the environment's own, also when pytest was started by its full path.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1", "PATH": path}
    dvc = Path(sys.executable).with_name("dvc")
    done = subprocess.run([dvc, "repro"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.mark.slow
def test_the_external_recipe_runs_and_reruns_only_what_changed(tmp_path):
    root = _copy_example(tmp_path / "project", epochs=3)
    _edit(root / "params.yaml", "estimate", estimators=["plugin"])
    dvc = Path(sys.executable).with_name("dvc")
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=root, check=True)
    assert _ran(_repro(root)) == {"train", "reduce", "estimate", "plot"}
    with xr.open_dataset(root / "reports" / "metrics.nc") as metrics:
        assert metrics.layer.values.tolist() == ["1", "3", "4"] and metrics.epoch.values.tolist() == [0, 1, 2, 3]
        assert np.isfinite(metrics.I_XT.values).all() and np.isfinite(metrics.I_TY.values).all()
    assert (root / "reports" / "figures" / "information_plane_plugin.png").exists()
    # A reduce setting reruns reduce and what follows it; the user's training is left alone.
    _edit(root / "params.yaml", "reduce", n_bins=12)
    assert _ran(_repro(root)) == {"reduce", "estimate", "plot"}
    # The training script's own setting makes its stage stale (and, through its outputs, everything after it).
    (root / "train_params.yaml").write_text((root / "train_params.yaml").read_text().replace("epochs: 3", "epochs: 2"))
    status = subprocess.run([dvc, "status"], cwd=root, capture_output=True, text=True, check=True).stdout
    assert re.findall(r"^(\S+):$", status, re.MULTILINE) == ["train"], status


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """Run the example's train.py in ``tmp_path`` (its stores in tmp_path/run) with the given settings."""

    def record(**settings):
        root = _copy_example(tmp_path / "project", epochs=4, **settings)
        monkeypatch.chdir(root)
        monkeypatch.syspath_prepend(str(root))
        sys.modules.pop("train", None)
        import train

        train.main()
        params = {
            "dataset": {"name": "custom", "factory": "train:load_data", "root": str(root)},
            "select": {"method": "delta-exact", "delta": 0.05, "workers": 1},
        }
        (root / "params.yaml").write_text(
            yaml.safe_dump({**yaml.safe_load((root / "params.yaml").read_text()), **params})
        )
        return root

    return record


def _select(root: Path) -> dict:
    import stages.select_epochs

    stages.select_epochs.main(root / "params.yaml", root / "run" / "weights.zarr", root / "selection.json")
    return json.loads((root / "selection.json").read_text())


@pytest.mark.slow  # the search's Dask worker takes seconds to start
def test_delta_skip_selects_from_weights_recorded_at_every_epoch(recorded):
    root = recorded(schedule="every")
    selection = _select(root)
    assert selection["method"] == "delta-exact" and selection["epochs"][0] == 0 and selection["epochs"][-1] == 4
    # The dump stage rebuilds the network from the recorded factory: its activations are the Recorder's.
    import stages.dump_activations

    stages.dump_activations.main(
        root / "params.yaml", str(root / "run" / "weights.zarr"), root / "selection.json", str(root / "dumped.zarr")
    )
    dumped, recorded_store = open_layer_store(root / "dumped.zarr"), open_layer_store(root / "run" / "activations.zarr")
    assert layer_names(dumped) == layer_names(recorded_store) == ["1", "3", "4"]
    for layer in ("1", "3", "4"):
        expected = read_array(recorded_store, f"{layer}/activation")[selection["epochs"]]
        np.testing.assert_allclose(read_array(dumped, f"{layer}/activation"), expected, rtol=1e-5, atol=1e-6)


def test_delta_skip_on_weights_of_some_epochs_says_to_record_every_epoch(recorded):
    root = recorded(schedule=2)
    with pytest.raises(InputError, match=r"epoch 1 is missing.*schedule='every'"):
        _select(root)


def test_delta_skip_on_weights_recorded_without_a_factory_says_to_pass_one(recorded):
    root = recorded(schedule="every")
    train_script = (root / "train.py").read_text()
    (root / "train.py").write_text(train_script.replace('factory="train:build_model"', "factory=None"))
    sys.modules.pop("train", None)
    import train

    shutil.rmtree(root / "run")
    train.main()
    with pytest.raises(InputError, match=r"recorded without a model factory; pass factory="):
        _select(root)


def test_a_recorder_factory_that_builds_another_network_is_refused_at_once(tmp_path, monkeypatch):
    import ibpipe

    root = _copy_example(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    sys.modules.pop("train", None)
    import train

    x, y = (torch.from_numpy(values) for values in train.load_data(rows=16))
    model = train.build_model(hidden=8)
    with pytest.raises(InputError, match=r"factory = 'train:build_model' builds a network whose parameters differ"):
        ibpipe.Recorder(model, ["1"], x, y, root / "run", factory="train:build_model", factory_kwargs={"hidden": 5})
    assert not (root / "run").exists()


def test_building_a_network_from_weights_recorded_without_a_factory_says_to_pass_one():
    from ibpipe.nn.architectures import build_model

    with pytest.raises(InputError, match=r"recorded by ibpipe.Recorder from a mine.Net without a model factory"):
        build_model({"arch": "recorded", "class": "mine.Net", "input_shape": [2], "n_classes": 2})
