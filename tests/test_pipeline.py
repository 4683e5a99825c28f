"""A tiny end-to-end `dvc repro` in a temporary git repository and what it wrote; the helpers of every
end-to-end test. Params edits on copies of the same built project: test_pipeline_edits.py and
test_pipeline_variants.py."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from typer.testing import CliRunner

from ibpipe.cli import app
from ibpipe.neurons.compression_report import compression_report
from ibpipe.pipeline_file import stage_names

PROJECT = Path(__file__).resolve().parents[1]
MAIN_STAGES = ("train", "select", "dump-activations", "reduce", "estimate", "plot")
STAGE_NAMES = tuple(stage_names(PROJECT))
# A few seconds of autoencoders: the curve's science is tested in test_autoencoder.py.
TINY_AE = {
    "source": "linear",
    "n_samples": 300,
    "ambient_dim": 6,
    "intrinsic_dim": 2,
    "dmax": 3,
    "widths": [8],
    "max_epochs": 20,
    "patience": 5,
    "scheduler": "synchronous",
}
# Seconds of neuron-space work: the method's oracles are in test_neurons.py and test_neuron_experiment.py.
TINY_NEURONS = {"hidden": 6, "epochs": 100, "replicas": 3, "scheduler": "synchronous"}
TINY_COMPRESSION = {"k_max": 3, "restarts": 2}
LAYERS = ("hidden1", "hidden2", "hidden3", "hidden4", "hidden5", "output")
# Seconds of variational Gaussians (compare-covariances) and t-SNE maps: their oracles are in test_neurons.py,
# test_neuron_statistics.py and test_probes_and_tsne.py; here the stages need only run and write their outputs.
TINY_GAUSSIANS = {"steps": 100}
TINY_TSNE = {"n_rows": 100, "n_iter": 100, "n_iter_next": 50}
pytestmark = pytest.mark.slow


def _environment(root: Path) -> dict[str, str]:
    environment = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONPATH=str(root))
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    return environment


def _run(root: Path, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=root, env=_environment(root), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _edit_params(root: Path, section: str, **values) -> None:
    """Set keys of a (dotted) params section, e.g. ``_edit_params(root, "neurons.bootstrap", hidden=6)``."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    target = params
    for part in section.split("."):
        target = target[part]
    target.update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _repro(root: Path, *targets: str) -> set[str]:
    """Run `dvc repro` (of ``targets`` and what they need); return the stages it ran."""
    output = _run(root, "dvc", "repro", *targets).stdout
    return set(re.findall(r"Running stage '([^']+)'", output))


def new_project(root: Path) -> Path:
    """A copy of the project (pipeline, params, code) in its own git + DVC repository."""
    for name in ("dvc.yaml", "params.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(PROJECT / name, root / name)
    for directory in ("stages", "ibpipe", "plot_templates", "data/own"):
        shutil.copytree(PROJECT / directory, root / directory, ignore=shutil.ignore_patterns("__pycache__"))
    _run(root, "git", "init", "-q")
    _run(root, "dvc", "init", "-q")
    # what `dvc config core.analytics false` writes, without a third process
    (root / ".dvc" / "config").write_text("[core]\n    analytics = false\n")
    return root


def build_project(root: Path) -> Path:
    """The end-to-end project: 12 epochs, 2 trials, every stage run once (conftest's ``pipeline_project``)."""
    new_project(root)
    _edit_params(root, "train", epochs=12, learning_rate=1.0e-2, trials=2)
    _edit_params(root, "select", method="all")
    _edit_params(root, "dump", epochs_per_shard=4)
    # In-process estimates keep the test fast; test_parallel covers the process cluster.
    _edit_params(root, "estimate", scheduler="synchronous")
    _edit_params(root, "ae", **TINY_AE)
    _edit_params(root, "neurons.bootstrap", **TINY_NEURONS)
    _edit_params(root, "neurons.compress", **TINY_COMPRESSION)
    _edit_params(root, "neurons.gaussians", **TINY_GAUSSIANS)
    _edit_params(root, "tsne", **TINY_TSNE)
    ran = _repro(root)
    assert ran == set(STAGE_NAMES)
    return root


@pytest.fixture(scope="module")
def project(pipeline_project) -> Path:
    """This module's copy of the built project; its tests only read it."""
    return pipeline_project


def test_metrics_dataset_has_the_contracted_dims_coords_and_units(project):
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        for name in ("H_T", "I_XT", "I_TY"):
            assert metrics[name].dims == ("epoch", "layer", "estimator", "trial")
            assert metrics[name].attrs["units"] == "bit"
        assert metrics.layer.values.tolist() == ["hidden1", "hidden2", "hidden3", "hidden4", "hidden5", "output"]
        assert metrics.layer_width.values.tolist() == [10, 7, 5, 4, 3, 2]
        assert metrics.epoch.values.tolist() == list(range(13))
        assert metrics.estimator.values.tolist() == ["plugin", "miller-madow", "kde-upper", "kde-lower"]
        assert yaml.safe_load(metrics.attrs["params"])["train"]["epochs"] == 12
        assert metrics.attrs["inputs_unique"] == 1
        # All 4096 inputs are distinct, so plug-in I(X;T) = H(T) <= 12 bits and I(T;Y) <= H(Y).
        plugin = metrics.sel(estimator="plugin")
        assert (plugin.I_XT == plugin.H_T).all()
        # Plug-in and KDE cannot exceed log2 N; Miller-Madow adds (N - 1) / (2 N ln 2) to it.
        assert float(metrics.I_XT.sel(estimator=["plugin", "kde-upper", "kde-lower"]).max()) <= 12.0 + 1e-9
        assert float(metrics.I_XT.sel(estimator="miller-madow").max()) <= 12.0 + 4095 / (2 * 4096 * np.log(2)) + 1e-9
        assert float(plugin.I_TY.max()) <= metrics.attrs["H_Y"] + 1e-9
        assert (metrics.I_XT.sel(estimator="kde-lower") <= metrics.I_XT.sel(estimator="kde-upper") + 1e-9).all()
        assert "Kolchinsky" in metrics.attrs["estimator_references"]
        assert metrics.attrs["H_Y"] == pytest.approx(0.99916, abs=1e-5)
        # Data processing: deeper layers cannot know more about X than the first.
        last = metrics.isel(epoch=-1, estimator=0)
        assert (last.I_XT.sel(layer="output") <= last.I_XT.sel(layer="hidden1")).all()


def test_dimensions_over_training_and_the_autoencoder_curves_are_stored(project):
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        assert metrics.corrdim.dims == ("epoch", "layer", "trial") and metrics.nn_dim.dims == (
            "epoch",
            "layer",
            "trial",
        )
        # A layer cannot have more dimensions than units (small slack for estimator noise).
        # trial 0, the run this bound was checked on (TwoNN is an estimate, not bounded by the width)
        assert (metrics.nn_dim.sel(trial=0) <= metrics.layer_width + 0.5).all()
    with xr.open_dataset(project / "reports" / "ae_entropy.nc") as curves:
        assert curves.d.values.tolist() == [1, 2, 3]
        for name in ("mse", "H_raw", "H_std", "I_noise", "corrdim_codes"):
            assert curves[name].dims == ("d",) and np.isfinite(curves[name]).all()
        for name in ("bend_H_raw", "bend_H_std", "bend_I_noise", "corrdim_data"):
            assert name in curves.attrs
        assert curves.attrs["true_dim"] == 2 and 1 <= curves.attrs["bend_H_std"] <= 3
        assert curves.H_raw.attrs["units"] == "nat"
        bend = round(float(curves.attrs["bend_H_std"]), 3)
    assert json.loads((project / "reports" / "ae_entropy.json").read_text()) == {"bend_H_std": bend}


def test_the_compression_experiment_writes_its_contracted_outputs(project):
    with xr.open_dataset(project / "reports" / "compression.nc") as curves:
        assert curves.accuracy.dims == ("metric", "k", "restart") and curves.params.dims == ("k",)
        assert curves.metric.values.tolist() == ["euclidean", "w2"] and curves.k.values.tolist() == [1, 2, 3]
        assert 0 < curves.attrs["accuracy_full"] <= 1
        report = compression_report(curves, 0.0)
        assert report["dataset"] == "iris" and report["params_full"] == 6 * 5 + 3 * 7
    # the DVC metric: the verdict code of W2 against Euclidean
    summary = yaml.safe_load((project / "reports" / "compression.json").read_text())
    assert summary == {"w2": {"verdict": report["verdict_code"]}}
    assert report["verdict_code"] == "unclear"  # 2 restarts cannot reach p < 0.05
    figures = {p.name for p in (project / "reports" / "compression_figures").iterdir()}
    assert figures == {"neuron_ellipses.png", "accuracy_against_parameters.png", "alignment_quality.png"}


def test_reports_summary_and_figures_exist(project):
    summary = yaml.safe_load((project / "reports" / "metrics.json").read_text())
    assert list(summary) == ["hidden5"] and summary["hidden5"]["verdict"] in {"compress", "none", "unclear"}
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        ratio = metrics.final_to_peak.sel(layer="hidden5", estimator="plugin").mean("trial")
        assert summary["hidden5"]["final_to_peak"] == pytest.approx(float(ratio), abs=1e-4)
    figures = {p.name for p in (project / "reports" / "figures").iterdir()}
    estimators = ("plugin", "miller-madow", "kde-upper", "kde-lower")
    expected = {f"information_{kind}_{name}.png" for kind in ("plane", "over_epochs") for name in estimators}
    others = {"estimator_comparison", "training_curves", "selection", "state_saturation", "dimension_over_epochs"}
    others |= {"ib_lagrangian", "information_ceiling"}
    assert figures == expected | {f"{name}.png" for name in others}
    assert {p.name for p in (project / "reports" / "ae_figures").iterdir()} == {"ae_entropy.png"}
    shown = _run(project, "dvc", "metrics", "show").stdout
    for column in ("test.accuracy", "hidden5.final_to_peak", "hidden5.verdict", "bend_H_std", "w2.verdict"):
        assert column in shown
    assert "I_TY" not in shown  # compact: every layer and estimator stays in metrics.nc
    assert max(len(line) for line in shown.splitlines()) <= 120  # one terminal's width
    rows = json.loads((project / "reports" / "information_curves.json").read_text())
    assert {row["layer"] for row in rows} == set(LAYERS) and len(rows) == 13 * 6
    printed = _run(project, sys.executable, "-m", "ibpipe", "summary").stdout
    assert "epoch 12, 2 trials" in printed
    assert re.search(rf"hidden5 .* {summary['hidden5']['verdict']}\n", printed)


def test_trials_are_stored_in_every_store_and_carry_compression_statistics(project):
    import zarr

    weights = zarr.open_group(project / "data" / "weights.zarr", mode="r")
    assert weights["weights/layers.hidden1.0.weight"].shape == (2, 13, 10, 12)
    assert not np.array_equal(
        weights["weights/layers.hidden1.0.weight"][0], weights["weights/layers.hidden1.0.weight"][1]
    )
    for store in ("activations", "codes"):
        root = zarr.open_group(project / "data" / f"{store}.zarr", mode="r")
        assert root.attrs["trials"] == 2 and "trial1" in root and "hidden1" in root["trial1"]
    with xr.open_dataset(project / "reports" / "metrics.nc") as metrics:
        assert metrics.trial.values.tolist() == [0, 1]
        assert metrics.final_to_peak.dims == ("layer", "estimator", "trial")
        # the statistics are those of the stored curves
        curve = metrics.I_XT.sel(layer="hidden5", estimator="plugin", trial=1)
        peak = float(curve.max())
        assert float(metrics.peak_I_XT.sel(layer="hidden5", estimator="plugin", trial=1)) == pytest.approx(peak)
        assert float(metrics.final_to_peak.sel(layer="hidden5", estimator="plugin", trial=1)) == pytest.approx(
            float(curve[-1]) / peak
        )


def test_probes_and_tsne_write_their_contracted_outputs(project):
    with xr.open_dataset(project / "reports" / "probes.nc") as probes:
        for name in ("probe_accuracy", "usable_information", "class_separation"):
            assert probes[name].dims == ("epoch", "layer")
        assert probes["usable_information"].attrs["units"] == "bit"
    figures = {p.name for p in (project / "reports" / "probe_figures").iterdir()}
    assert figures == {"probe_accuracy.png", "class_separation.png", "metrics_with_probes.nc"}
    with xr.open_dataset(project / "reports" / "probe_figures" / "metrics_with_probes.nc") as merged:
        assert {"I_XT", "probe_accuracy", "class_separation"} <= set(merged.data_vars)
    assert {p.name for p in (project / "reports" / "tsne").iterdir()} == {"grid.png", "sequence.gif", "embeddings.nc"}
    with xr.open_dataset(project / "reports" / "tsne" / "embeddings.nc") as maps:
        assert maps["embedding"].dims == ("layer", "step", "row", "component")
        assert maps.sizes["step"] == 3 and maps.sizes["component"] == 2


def test_cli_prints_the_metrics_table(project):
    result = CliRunner().invoke(app, ["infoplane", "metrics", str(project / "reports" / "metrics.nc"), "--epoch", "12"])
    assert result.exit_code == 0, result.output
    assert re.search(r"plugin\s+output\s+2\s", result.output)
    missing = CliRunner().invoke(
        app, ["infoplane", "metrics", str(project / "reports" / "metrics.nc"), "--epoch", "99"]
    )
    assert missing.exit_code == 2 and "was not measured" in missing.output


def test_malformed_params_stop_a_stage_before_any_work(project, tmp_path):
    bad = tmp_path / "params.yaml"
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"]["activation"] = "softplus"
    bad.write_text(yaml.safe_dump(params))
    out = tmp_path / "weights.zarr"
    result = _run(project, sys.executable, "stages/train.py", "--params-file", str(bad), "--out", str(out), check=False)
    assert result.returncode == 2
    assert "model.activation = 'softplus'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_the_select_stage_imports_torch_only_for_a_delta_skip_search():
    code = (
        "import sys, stages.select_epochs as s; assert 'torch' not in sys.modules, 'torch imported';"
        "from ibpipe.infoplane.probing import SEARCHES; assert s.SEARCHES == tuple(SEARCHES), s.SEARCHES"
    )
    _run(PROJECT, sys.executable, "-c", code)
