"""The pipeline as dvc.yaml declares it, and the code each stage really runs.

``stage_names`` reads the stages from dvc.yaml (the CLI offers exactly those). ``code_dependencies``
follows a stage script's imports through the ``ibpipe`` package (module-level imports and the
lazy ones inside functions alike) and returns every source file its process can import; the
test suite holds dvc.yaml's ``deps`` to exactly that set, so an edit to a file reruns exactly
the stages that import it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

PACKAGE = "ibpipe"


def read_pipeline(project: str | Path = ".") -> dict[str, Any]:
    """dvc.yaml's stages, by name."""
    return yaml.safe_load((Path(project) / "dvc.yaml").read_text())["stages"]


def stage_names(project: str | Path = ".") -> list[str]:
    return list(read_pipeline(project))


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
    return {str(path.relative_to(root)) for path in seen}


def declared_code(stage: dict[str, Any], project: str | Path = ".") -> set[str]:
    """The Python files a stage's ``deps`` cover (folders expanded)."""
    root = Path(project)
    files: set[str] = set()
    for dep in stage.get("deps", []):
        path = root / dep
        if path.is_dir():
            files |= {str(item.relative_to(root)) for item in path.rglob("*.py")}
        elif path.suffix == ".py":
            files.add(dep)
    return files


def stage_script(stage: dict[str, Any]) -> str:
    """The ``stages/*.py`` script a stage's cmd runs."""
    words = " ".join(stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]).split()
    return next(word for word in words if word.startswith("stages/") and word.endswith(".py"))
