"""The stage graph, declared once, and the dvc.yaml written from it.

``STAGES`` names each stage's script, the files it reads and writes (as the flags of its command),
the params keys it reads and the notes a reader of dvc.yaml needs. The code each stage depends on
is not declared: ``code_dependencies`` follows the stage script's imports through the ``ibpipe``
package (module-level imports and the lazy ones inside functions alike) and finds every source file
its process can import; ``render`` lists those files in the stage's ``deps``, a whole folder where
the stage imports every ``.py`` file under it. ``python -m ibpipe stages --write`` writes the result
to dvc.yaml, and the test suite fails when dvc.yaml differs from it, so an edit to a file reruns
exactly the stages that import it and nobody types a dependency.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PACKAGE = "ibpipe"
PIPELINE_FILE = "dvc.yaml"
# Folders DVC leaves out of a folder dep's hash: .dvcignore names them (tests/test_dependencies.py
# holds the two together), so a folder dep covers exactly its source files.
IGNORED_FOLDERS = frozenset({"__pycache__"})
WIDTH = 110


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

HEADER = (
    "Written by `python -m ibpipe stages --write` from the stage graph in ibpipe/pipeline.py: edit it there."
    " Code deps are the files each stage's script can import (a folder where it imports all of it);"
    " tests/test_dependencies.py fails when this file differs from what the command writes."
)


# --- the code a stage imports ---------------------------------------------------------------------


def _module_file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imported_modules(path: Path, root: Path) -> Iterable[str]:
    """Every ``ibpipe`` module a file imports, at any depth of its code; packages contribute their __init__."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.rsplit(".", node.level)[0] if path.name != "__init__.py" else package
                base = ".".join(filter(None, [parent, node.module]))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                parts = name.split(".")
                # importing a.b.c runs a/__init__ and a/b/__init__ too
                yield from (".".join(parts[:depth]) for depth in range(1, len(parts) + 1))


def code_dependencies(script: str | Path, project: str | Path = ".") -> set[str]:
    """Project-relative paths of the script and every ``ibpipe`` source file it can import."""
    root = Path(project).resolve()
    start = (root / script).resolve()
    seen: set[Path] = set()
    queue = [start]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imported_modules(path, root):
            found = _module_file(module, root)
            if found is not None and found not in seen:
                queue.append(found)
    return {path.relative_to(root).as_posix() for path in seen}


def _folder_files(folder: Path) -> list[Path]:
    """Every file DVC hashes for a folder dep (all but the ignored folders), recursively."""
    files = []
    for item in sorted(folder.iterdir()):
        if item.is_dir():
            if item.name not in IGNORED_FOLDERS:
                files.extend(_folder_files(item))
        else:
            files.append(item)
    return files


def compress(files: set[str], project: str | Path = ".") -> list[str]:
    """``files`` as deps: a folder stands for its files wherever every file DVC would hash in it is listed.

    The listing stays exact: a folder is named only when it holds nothing else (no unimported module,
    no data), so a folder dep and the file list it replaces rerun a stage on the same edits.
    """
    root = Path(project)
    covered: dict[str, bool] = {}

    def whole(folder: str) -> bool:
        if folder not in covered:
            inside = _folder_files(root / folder)
            covered[folder] = bool(inside) and all(path.relative_to(root).as_posix() in files for path in inside)
        return covered[folder]

    deps = set()
    for file in files:
        parts = file.split("/")
        folders = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
        deps.add(next((folder for folder in folders if whole(folder)), file))
    return sorted(deps)


def stage_code(stage: Stage, project: str | Path = ".") -> list[str]:
    """The code deps dvc.yaml lists for a stage: its script's import closure, folders where whole."""
    return compress(code_dependencies(stage.script, project) - {stage.script}, project)


# --- writing dvc.yaml -----------------------------------------------------------------------------


def _stage_document(stage: Stage, project: str | Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"cmd": Noted(stage.cmd, stage.note)}
    entry["deps"] = [*stage.inputs(), stage.script, *stage_code(stage, project)]
    entry["params"] = list(stage.params)
    for kind in ("outs", "metrics", "plots"):
        written = [
            Noted({out.path: dict(out.options)} if out.options else out.path, out.note) for out in stage.outputs(kind)
        ]
        if written:
            entry[kind] = written
    return entry


def document(project: str | Path = ".", stages: Iterable[Stage] = STAGES) -> dict[str, Any]:
    """dvc.yaml as data (notes still attached); ``render`` writes it."""
    return {"stages": {stage.name: _stage_document(stage, project) for stage in stages}, "plots": PLOTS}


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).removesuffix("\n...\n").strip()


def _comment(note: str, pad: str) -> list[str]:
    return [f"{pad}# {line}" for line in textwrap.wrap(note, WIDTH - len(pad) - 2)] if note else []


def _fold(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken before a ``--flag`` (a flag stays by its value)."""
    lines: list[str] = []
    for chunk in re.split(r" (?=--)", text):
        if lines and len(lines[-1]) + 1 + len(chunk) <= width:
            lines[-1] += " " + chunk
        else:
            lines.append(chunk)
    return lines


def _lines(value: Any, depth: int) -> list[str]:
    """YAML lines of a mapping or list at ``depth`` (two spaces a level), notes as comments above entries."""
    pad = "  " * depth
    lines: list[str] = []
    entries = value.items() if isinstance(value, dict) else ((None, item) for item in value)
    for key, item in entries:
        if isinstance(item, Noted):
            lines += _comment(item.note, pad)
            item = item.value
        if key is None:  # a list entry: scalars inline, a mapping as its lines with the first one dashed
            if isinstance(item, (dict, list)):
                nested = _lines(item, depth + 1)
                first = next(index for index, line in enumerate(nested) if not line.lstrip().startswith("#"))
                nested[first] = f"{pad}- {nested[first][len(pad) + 2 :]}"
                lines += nested
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        elif isinstance(item, (dict, list)):
            lines.append(f"{pad}{_scalar(key)}:")
            lines += _lines(item, depth + 1)
        elif isinstance(item, str) and len(f"{pad}{key}: {item}") > WIDTH:
            lines.append(f"{pad}{_scalar(key)}: >-")
            lines += [f"{pad}  {line}" for line in _fold(item, WIDTH - len(pad) - 2)]
        else:
            lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
    return lines


def render(project: str | Path = ".", stages: Iterable[Stage] = STAGES) -> str:
    """The text of dvc.yaml for ``stages``, code deps derived from the project's files."""
    lines = _comment(HEADER, "")
    for line in _lines(document(project, stages), 0):
        if line == "plots:" or (line.startswith("  ") and line[2] not in " -#" and lines[-1] != "stages:"):
            lines.append("")  # a blank line between stages, and before the top-level plots
        lines.append(line)
    return "\n".join(lines) + "\n"


def plain(value: Any) -> Any:
    """``value`` without its notes: what YAML reads back from the rendered text."""
    if isinstance(value, Noted):
        return plain(value.value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


# --- reading dvc.yaml -----------------------------------------------------------------------------


def read_pipeline(project: str | Path = ".") -> dict[str, Any]:
    """dvc.yaml's stages, by name."""
    return yaml.safe_load((Path(project) / PIPELINE_FILE).read_text())["stages"]


def stage_names(project: str | Path = ".") -> list[str]:
    return list(read_pipeline(project))


def declared_code(stage: dict[str, Any], project: str | Path = ".") -> set[str]:
    """The Python files a dvc.yaml stage's ``deps`` cover (folders expanded)."""
    root = Path(project)
    files: set[str] = set()
    for dep in stage.get("deps", []):
        path = root / dep
        if path.is_dir():
            files |= {item.relative_to(root).as_posix() for item in _folder_files(path) if item.suffix == ".py"}
        elif path.suffix == ".py":
            files.add(dep)
    return files


def stage_script(stage: dict[str, Any]) -> str:
    """The ``stages/*.py`` script a dvc.yaml stage's cmd runs."""
    words = " ".join(stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]).split()
    return next(word for word in words if word.startswith("stages/") and word.endswith(".py"))


def difference(project: str | Path = ".") -> list[str]:
    """A unified diff from dvc.yaml to what ``render`` writes: empty when the file is up to date."""
    path = Path(project) / PIPELINE_FILE
    current = path.read_text() if path.exists() else ""
    written = render(project)
    return list(difflib.unified_diff(current.splitlines(), written.splitlines(), PIPELINE_FILE, "written", lineterm=""))


def write(project: str | Path = ".") -> bool:
    """Write dvc.yaml from the stage graph; whether that changed the file."""
    changed = bool(difference(project))
    if changed:
        (Path(project) / PIPELINE_FILE).write_text(render(project))
    return changed
