"""The stage graph, declared once: ``STAGES`` names each stage's script, the files it reads and writes (as the
flags of its command), the params keys it reads and the notes a reader of dvc.yaml needs.

The code each stage depends on is not declared: ``ibpipe.pipeline_file`` follows each stage script's imports and
writes dvc.yaml from this graph (``python -m ibpipe stages --write``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Read:
    """A file or folder a stage reads (a dep in dvc.yaml)."""

    path: str


@dataclass(frozen=True)
class Write:
    """A file or folder a stage writes: ``kind`` is the dvc.yaml list it goes in (outs, metrics, plots)."""

    path: str
    kind: str = "outs"
    options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


def metric(path: str, note: str = "") -> Write:
    """A small metrics file kept in git (not in the DVC cache), so `dvc metrics diff` reads it from any commit."""
    return Write(path, "metrics", {"cache": False}, note)


@dataclass(frozen=True)
class Stage:
    """One dvc.yaml stage: ``python SCRIPT --flag path ...``; its code deps come from the script's imports."""

    name: str
    script: str
    args: Mapping[str, str | Read | Write]
    params: tuple[str, ...]
    reads: tuple[str, ...] = ()  # files it reads that no flag names (a custom model's module)
    writes: tuple[Write, ...] = ()  # outputs no flag names (DVCLive's files under --live)
    note: str = ""

    @property
    def cmd(self) -> str:
        flags = (f"{flag} {value if isinstance(value, str) else value.path}" for flag, value in self.args.items())
        return " ".join(["python", self.script, *flags])

    def inputs(self) -> list[str]:
        return [*(value.path for value in self.args.values() if isinstance(value, Read)), *self.reads]

    def outputs(self, kind: str) -> list[Write]:
        named = [value for value in self.args.values() if isinstance(value, Write)]
        return [value for value in [*named, *self.writes] if value.kind == kind]


# The default dataset.root of a user's own data (dataset.name arrays or custom): a dep of every stage
# that loads the dataset, so editing a data file or a factory module kept there reruns them. It always
# exists (its README is in git), so the dep holds for the built-in datasets too.
OWN_DATA = "data/own"
# What training reads of the dataset section (measure_on only chooses the measured rows).
TRAIN_DATASET_KEYS = ("name", "root", "download", "factory", "test_fraction", "split_seed")

NEURONS_SOURCE_NOTE = (
    "Cheap and byte-identical unless neurons.bootstrap.source is pipeline, so that retraining the 12-bit net"
    " does not rerun the default (IRIS) neuron experiment. Of neurons.bootstrap it reads source and layer;"
    " any other change gives the same bytes."
)

STAGES: tuple[Stage, ...] = (
    Stage(
        "train",
        "stages/train.py",
        {"--out": Write("data/weights.zarr"), "--live": "reports/training"},
        (*(f"dataset.{key}" for key in TRAIN_DATASET_KEYS), "model", "train"),
        reads=(OWN_DATA,),
        writes=(
            metric(
                "reports/training/metrics.json",
                "the last epoch's test accuracy (mean over trials): `dvc exp show` lists it",
            ),
            Write("reports/training/plots/metrics", "plots", {"x": "step", "cache": False}),
        ),
    ),
    Stage(
        "select",
        "stages/select_epochs.py",
        {"--weights": Read("data/weights.zarr"), "--out": Write("data/selection.json")},
        ("train.epochs", "select", "dataset", "reduce"),
        reads=(OWN_DATA,),
        note="delta-skip methods probe the trained net: hence weights, dataset and reduce settings.",
    ),
    Stage(
        "dump-activations",
        "stages/dump_activations.py",
        {
            "--weights": Read("data/weights.zarr"),
            "--selection": Read("data/selection.json"),
            "--out": Write("data/activations.zarr"),
        },
        ("dataset", "dump"),
        reads=(OWN_DATA,),
    ),
    Stage(
        "reduce",
        "stages/reduce.py",
        {"--activations": Read("data/activations.zarr"), "--out": Write("data/codes.zarr")},
        ("reduce",),
    ),
    Stage(
        "estimate",
        "stages/estimate.py",
        {
            "--codes": Read("data/codes.zarr"),
            "--activations": Read("data/activations.zarr"),
            "--out": Write("reports/metrics.nc"),
            "--summary": metric("reports/metrics.json"),
        },
        ("estimate",),
    ),
    Stage(
        "plot",
        "stages/plot.py",
        {
            "--metrics": Read("reports/metrics.nc"),
            "--weights": Read("data/weights.zarr"),
            "--selection": Read("data/selection.json"),
            "--out": Write("reports/figures"),
            "--curves": Write(
                "reports/information_curves.json",
                options={"cache": False},
                note="rows (epoch, layer, I_XT, I_TY) of the top-level plots below; small, kept in git like metrics",
            ),
        },
        ("plot",),
    ),
    Stage(
        "describe",
        "stages/describe.py",
        {
            "--activations": Read("data/activations.zarr"),
            "--codes": Read("data/codes.zarr"),
            "--out": Write("reports/describe"),
        },
        ("describe", "plot.dpi"),
        note="the thesis's exploratory figures of the data set and one layer; the numbers in describe.json",
    ),
    Stage(
        "probes",
        "stages/probes.py",
        {"--activations": Read("data/activations.zarr"), "--out": Write("reports/probes.nc")},
        ("probes",),
    ),
    Stage(
        "plot-probes",
        "stages/plot_probes.py",
        {
            "--metrics": Read("reports/metrics.nc"),
            "--probes": Read("reports/probes.nc"),
            "--out": Write("reports/probe_figures"),
        },
        ("plot.dpi",),
    ),
    Stage(
        "tsne",
        "stages/tsne.py",
        {
            "--activations": Read("data/activations.zarr"),
            "--metrics": Read("reports/metrics.nc"),
            "--out": Write("reports/tsne"),
        },
        ("tsne", "plot.dpi"),
    ),
    Stage(
        "ae-points",
        "stages/ae_points.py",
        {"--activations": Read("data/activations.zarr"), "--out": Write("data/ae_points")},
        tuple(
            f"ae.{key}"
            for key in ("source", "n_samples", "ambient_dim", "intrinsic_dim", "noise", "layer", "epoch", "seed")
        ),
        note="Cheap and byte-identical for a synthetic or dataset source, so a re-dump does not rerun ae-entropy.",
    ),
    Stage(
        "ae-entropy",
        "stages/ae_entropy.py",
        {
            "--points": Read("data/ae_points"),
            "--out": Write("reports/ae_entropy.nc"),
            "--summary": metric("reports/ae_entropy.json"),
        },
        ("ae",),
    ),
    Stage(
        "plot-ae",
        "stages/plot_ae.py",
        {"--curves": Read("reports/ae_entropy.nc"), "--out": Write("reports/ae_figures")},
        ("plot.dpi",),
    ),
    Stage(
        "neuron-source",
        "stages/neuron_source.py",
        {"--weights": Read("data/weights.zarr"), "--out": Write("data/neuron_source")},
        ("neurons.bootstrap",),
        note=NEURONS_SOURCE_NOTE,
    ),
    Stage(
        "bootstrap",
        "stages/bootstrap.py",
        {"--source": Read("data/neuron_source"), "--out": Write("data/bootstrap.nc")},
        ("neurons.bootstrap",),
    ),
    Stage(
        "neuron-gaussians",
        "stages/neuron_gaussians.py",
        {"--bootstrap": Read("data/bootstrap.nc"), "--out": Write("data/neurons.nc")},
        ("neurons.gaussians",),
    ),
    Stage(
        "compress",
        "stages/compress.py",
        {
            "--bootstrap": Read("data/bootstrap.nc"),
            "--neurons": Read("data/neurons.nc"),
            "--source": Read("data/neuron_source"),
            "--out": Write("reports/compression.nc"),
            "--summary": metric("reports/compression.json"),
        },
        ("neurons.compress",),
    ),
    Stage(
        "compare-covariances",
        "stages/compare_covariances.py",
        {"--bootstrap": Read("data/bootstrap.nc"), "--out": Write("reports/covariance_figures")},
        ("neurons.gaussians", "plot.dpi"),
    ),
    Stage(
        "plot-compression",
        "stages/plot_compression.py",
        {
            "--bootstrap": Read("data/bootstrap.nc"),
            "--neurons": Read("data/neurons.nc"),
            "--compression": Read("reports/compression.nc"),
            "--out": Write("reports/compression_figures"),
        },
        ("plot.dpi",),
    ),
)


@dataclass(frozen=True)
class Noted:
    """A dvc.yaml value with a comment written above it."""

    value: Any
    note: str


def _curve(name: str, column: str, label: str) -> dict[str, Any]:
    return {
        f"{column}_over_epochs": {
            "title": f"{name} over epochs",
            "template": "plot_templates/information_by_layer.json",
            "x": "epoch",
            "y": {"reports/information_curves.json": column},
            "x_label": "epoch",
            "y_label": f"{label} [bits]",
        }
    }


# Top-level plots of dvc.yaml
PLOTS: list[Any] = [
    Noted(
        _curve("I(X;T)", "I_XT", "I(X;T)"),
        "Native DVC plots of the information curves: `dvc plots show` renders them, `dvc plots diff EXP1 EXP2`"
        " overlays experiments (one panel per layer, one colour per revision; the template is Vega-Lite).",
    ),
    _curve("I(T;Y)", "I_TY", "I(T;Y)"),
    Noted("reports/figures", "every PNG the plot stages write"),
    "reports/ae_figures",
    "reports/compression_figures",
    "reports/probe_figures",
    "reports/tsne/grid.png",
]
