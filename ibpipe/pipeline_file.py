"""dvc.yaml written from the stage graph (``ibpipe.pipeline.STAGES``), and read back.

``code_dependencies`` follows a stage script's imports through the ``ibpipe`` package (module-level
imports and the lazy ones inside functions alike) and finds every source file its process can import;
``render`` lists those files in the stage's ``deps``, a whole folder where the stage imports every ``.py``
file under it. ``python -m ibpipe stages --write`` writes the result to dvc.yaml, and the test suite fails
when dvc.yaml differs from it, so an edit to a file reruns exactly the stages that import it and nobody
types a dependency.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ibpipe.pipeline import PLOTS, STAGES, Noted, Stage

PACKAGE = "ibpipe"
PIPELINE_FILE = "dvc.yaml"
# Folders DVC leaves out of a folder dep's hash: .dvcignore names them (tests/test_dependencies.py
# holds the two together), so a folder dep covers exactly its source files.
IGNORED_FOLDERS = frozenset({"__pycache__"})
WIDTH = 110

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
