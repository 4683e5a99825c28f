"""What every reproduction shares: a run folder with its own params.yaml, the pipeline's stages run in it, tables.

A reproduction does not re-implement the pipeline: it writes a params.yaml (the project's defaults with the
study's settings over them) into ``reports/reproductions/<study>/work/<run>/`` and runs the stage scripts of
``ibpipe.pipeline.STAGES`` there, exactly as ``dvc repro`` would, without needing a git or DVC repository.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
# IBPIPE_REPRODUCTIONS moves the reports (the tests point it at a temporary folder).
REPORTS = Path(os.environ.get("IBPIPE_REPRODUCTIONS", REPO / "reports" / "reproductions"))
DOC_FIGURES = REPO / "docs" / "reproductions" / "figures"
_START = time.perf_counter()
# --reuse: keep run folders and skip every stage whose outputs are all there (to finish a recipe that stopped).
REUSE = False


def say(message: str) -> None:
    """One progress line with the seconds since the recipe started."""
    print(f"[{time.perf_counter() - _START:7.1f} s] {message}", flush=True)


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (IBPIPE_REPRODUCTIONS may move it out)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid on it, section by section (a dotted key 'a.b' sets base['a']['b'])."""
    result = copy.deepcopy(dict(base))
    for key, value in over.items():
        target, parts = result, key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if isinstance(value, Mapping) and isinstance(target.get(parts[-1]), Mapping):
            target[parts[-1]] = merged(target[parts[-1]], value)
        else:
            target[parts[-1]] = copy.deepcopy(value)
    return result


def out_folder(study: str) -> Path:
    folder = REPORTS / study
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_folder(study: str, name: str, settings: Mapping[str, Any], fresh: bool = True) -> Path:
    """``reports/reproductions/<study>/work/<name>/`` holding params.yaml = the project's params with ``settings``."""
    folder = REPORTS / study / "work" / name
    if fresh and not REUSE and folder.exists():
        shutil.rmtree(folder)
    (folder / "data" / "own").mkdir(parents=True, exist_ok=True)
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())
    (folder / "params.yaml").write_text(yaml.safe_dump(merged(defaults, settings), sort_keys=False))
    return folder


def set_params(folder: Path, settings: Mapping[str, Any]) -> None:
    """Lay ``settings`` over the run folder's params.yaml (to rerun a later stage with other settings)."""
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(merged(yaml.safe_load(path.read_text()), settings), sort_keys=False))


def stage(folder: Path, name: str, **paths: str) -> float:
    """Run pipeline stage ``name`` in ``folder`` with its dvc.yaml command; ``paths`` replace flags (``out=...``).

    Returns the seconds it took; a failing stage stops the recipe with the stage's own error.
    """
    from ibpipe.pipeline import STAGES, Read

    spec = next(item for item in STAGES if item.name == name)
    args, outputs = [sys.executable, str(REPO / spec.script)], []
    for flag, value in spec.args.items():
        path = paths.get(flag.lstrip("-").replace("-", "_"), value if isinstance(value, str) else value.path)
        args += [flag, path]
        if not isinstance(value, Read):
            outputs.append(folder / path)
    if REUSE and all(path.exists() for path in outputs):
        say(f"{name} ({folder.name}): kept from an earlier run")
        return 0.0
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    env.setdefault("DVC_NO_ANALYTICS", "1")
    start = time.perf_counter()
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"stage {name} failed in {folder} (exit {done.returncode})")
    say(f"{name} ({folder.name}): {seconds:.1f} s")
    return seconds


def stages(folder: Path, *names: str) -> dict[str, float]:
    return {name: stage(folder, name) for name in names}


def write_table(folder: Path, rows: Sequence[Mapping[str, Any]], name: str = "numbers", title: str = "") -> Path:
    """``rows`` as ``<name>.md`` (a Markdown table) and ``<name>.json`` in ``folder``; returns the .md path."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = [f"# {title}", ""] if title else []
    lines += ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(column, "")) for column in columns) + " |")
    path = folder / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    (folder / f"{name}.json").write_text(json.dumps(list(rows), indent=1, default=float) + "\n")
    say(f"table: {shown(path)}")
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def copy_figure(source: Path, study: str, name: str, publish: bool) -> Path:
    """Copy a figure into the study's report folder, and into docs/reproductions/figures when ``publish``."""
    target = out_folder(study) / name
    if Path(source).resolve() != target.resolve():
        shutil.copy(source, target)
    if publish:
        DOC_FIGURES.mkdir(parents=True, exist_ok=True)
        shrink(source, DOC_FIGURES / f"{study}-{name}")
    return target


def save_figure(figure: Any, out: Path, name: str, study: str, publish: bool) -> Path:
    """Lay out, write ``out/name`` (80 dpi), close ``figure``, and copy it to the docs when ``publish``."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(out / name, dpi=80)
    plt.close(figure)
    if publish:
        copy_figure(out / name, study, name, True)
    return out / name


def shrink(source: Path, target: Path, width: int = 900) -> None:
    """A copy of the PNG at most ``width`` pixels wide, palette-quantised: the docs keep small figures."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        image.quantize(colors=128).save(target, optimize=True)


def common_arguments(description: str):
    """The flags every recipe has: --smoke (tiny sizes, for the tests), --publish (copy figures into docs) and
    --reuse (finish a recipe that stopped: keep its run folders, skip stages whose outputs exist)."""
    parser = _Parser(description=description)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the recipe runs (seconds)")
    parser.add_argument("--publish", action="store_true", help="also copy the figures into docs/reproductions/figures")
    parser.add_argument("--reuse", action="store_true", help="keep run folders; skip stages whose outputs exist")
    return parser


class _Parser(argparse.ArgumentParser):
    """Sets REUSE from --reuse when the arguments are parsed."""

    def parse_args(self, *args, **kwargs):
        global REUSE
        parsed = super().parse_args(*args, **kwargs)
        REUSE = parsed.reuse
        return parsed
