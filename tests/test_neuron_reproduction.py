"""reproductions/neurons.py at its smoke size: the gait nets, every covariance source, the read-out neurons."""

import importlib.util
import json

import pytest

from ibpipe.neurons.params import COVARIANCE_SOURCES


@pytest.mark.slow
def test_the_neuron_recipe_writes_its_table_and_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("IBPIPE_REPRODUCTIONS", str(tmp_path))
    spec = importlib.util.spec_from_file_location("neurons_recipe", "reproductions/neurons.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    out = recipe.main(["--smoke"])
    assert out == tmp_path / "neurons-smoke"
    rows = json.loads((out / "numbers.json").read_text())["rows"]
    assert [(row["net"], row["neurons"], row["source"]) for row in rows] == [
        (net, neurons, source)
        for net, neurons in (("10-3-20", "3 hidden"), ("100-3-100", "3 hidden"), ("100-3-100", "100 read-out"))
        for source in COVARIANCE_SOURCES
    ]
    # window x 3 + 3 + 3 x horizon + horizon parameters; k = 6 read-out rows of 3 + 1 kept out of 100
    assert {row["net"]: row["params_full"] for row in rows} == {"10-3-20": 113, "100-3-100": 703}
    assert {row["params_at_k"] for row in rows if row["neurons"] == "100 read-out"} == {703 - (100 - 6) * 4}
    for name in ("compression", "readout_circle", "covariance_sources"):
        assert (out / f"neurons_{name}.png").stat().st_size > 1000
