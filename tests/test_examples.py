"""Each example of examples/ runs end to end at a tiny size: its information-plane point is finite and within
its ceilings, and the stores it recorded open with the pipeline's readers."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ibpipe.io.layers import layer_names, layer_shapes, open_layer_store, read_array
from ibpipe.io.weights import open_history, read_weights

ROOT = Path(__file__).resolve().parents[1]
POINT = re.compile(
    r"layer (?P<layer>\S+) epoch (?P<epoch>\d+): I\(X;T\) = (?P<I_XT>\S+) bits \(H\(X\) = (?P<H_X>\S+)\), "
    r"I\(T;Y\) = (?P<I_TY>\S+) bits \(H\(Y\) = (?P<H_Y>\S+)\)"
)


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


EXAMPLES = [
    pytest.param("residual_cnn.py", ["--epochs", "2", "--probe-rows", "200"], "3.3", (10,), id="residual-cnn"),
    pytest.param("lstm_sequences.py", ["--epochs", "2", "--rows", "256"], "head", (2,), id="lstm"),
    pytest.param(
        "transformer_lightning.py",
        ["--epochs", "2", "--rows", "256"],
        "head",
        (2,),
        id="lightning",
        marks=pytest.mark.skipif(_missing("lightning"), reason="needs ibpipe[lightning]"),
    ),
    pytest.param(
        "bert_trainer.py",
        ["--epochs", "2", "--rows", "64"],
        "classifier",
        (2,),
        id="transformers",
        marks=pytest.mark.skipif(
            _missing("transformers") or _missing("accelerate"), reason="needs ibpipe[transformers]"
        ),
    ),
]


@pytest.mark.parametrize(("script", "arguments", "last_layer", "last_shape"), EXAMPLES)
def test_example_prints_a_bounded_point_and_writes_readable_stores(tmp_path, script, arguments, last_layer, last_shape):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--out", str(tmp_path / "run"), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    found = POINT.search(run.stdout)
    assert found, run.stdout[-2000:]
    point = {name: float(found[name]) for name in ("I_XT", "I_TY", "H_X", "H_Y")}
    assert all(np.isfinite(value) for value in point.values())
    assert 0 <= point["I_XT"] <= point["H_X"] + 1e-9 and 0 <= point["I_TY"] <= point["H_Y"] + 1e-9
    assert found["layer"] == last_layer and int(found["epoch"]) == 2

    root = open_layer_store(tmp_path / "run/activations.zarr")
    assert layer_names(root)[-1] == last_layer and layer_shapes(root)[last_layer] == last_shape
    epochs = read_array(root, "epoch").tolist()
    assert epochs == [0, 1, 2]
    values = read_array(root, f"{last_layer}/activation")
    assert values.shape[:2] == (3, len(read_array(root, "labels"))) and np.all(np.isfinite(values))
    assert [epoch for epoch, _ in read_weights(tmp_path / "run/weights.zarr", epochs)] == epochs
    open_history(tmp_path / "run/weights.zarr")
