"""ibpipe: train, measure and plot the information flow of a network (a DVC pipeline)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from ibpipe.ae_entropy.cli import app as ae_app
from ibpipe.config.params import load_params
from ibpipe.errors import ParamsError
from ibpipe.infoplane.cli import app as infoplane_app
from ibpipe.infoplane.cli import compare as compare_runs
from ibpipe.io.stage import UserErrorGroup
from ibpipe.pipeline_file import (
    PIPELINE_FILE,
    code_dependencies,
    declared_code,
    read_pipeline,
    stage_names,
    stage_script,
)
from ibpipe.pipeline_file import difference as pipeline_difference
from ibpipe.pipeline_file import write as write_pipeline

# UserErrorGroup: a user error in any command is one `error:` line and exit 2, Ctrl-C one line and exit 130;
# --debug (anywhere) or IBPIPE_DEBUG=1 shows the traceback (ibpipe.io.stage).
app = typer.Typer(
    cls=UserErrorGroup, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__
)
app.add_typer(infoplane_app, name="infoplane", help="the information-plane experiment: metrics table, one layer")
app.add_typer(ae_app, name="ae", help="the autoencoder entropy curves: validation on manifolds of known dimension")
# `python -m ibpipe compare` is the infoplane command at the top level: comparing runs is what users do most.
app.command("compare")(compare_runs)


def _stages() -> list[str]:
    """The stages of ./dvc.yaml (the project the command runs in); none outside a project."""
    try:
        return stage_names(".")
    except FileNotFoundError:
        return []


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def run(
    stages: Annotated[
        list[str] | None, typer.Argument(help="stages of dvc.yaml to bring up to date (default: all); see `stages`")
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="rerun even if DVC finds the stage up to date")] = False,
    params_file: Annotated[Path, typer.Option(help="params file validated before DVC starts")] = Path("params.yaml"),
) -> None:
    """Validate params.yaml, then run `dvc repro` for the given stages (and what they depend on)."""
    known = _stages()
    for stage in stages or []:
        if stage not in known:
            _fail(
                f"unknown stage {stage!r}; the stages of dvc.yaml are {', '.join(known) or 'none (no dvc.yaml here)'}"
            )
    params(params_file, show=False)
    dvc = shutil.which("dvc") or _fail("dvc is not on PATH; activate the project's virtualenv (.venv/bin)")
    command = [dvc, "repro", *(["--force"] if force else []), *(stages or [])]
    raise typer.Exit(subprocess.call(command))


@app.command()
def verify(
    stores: Annotated[
        list[str] | None, typer.Argument(help="stores to check (paths or URLs; default: the Zarr outputs of dvc.yaml)")
    ] = None,
) -> None:
    """Check that each store is complete and every chunk is the one its writer wrote: one line per store,
    exit 1 when one is damaged (the line names the array, the chunk and the command that rebuilds it)."""
    from ibpipe.io.stores import verify_store

    if not stores:
        if not Path(PIPELINE_FILE).is_file():
            _fail(f"no {PIPELINE_FILE} in {Path.cwd()}: name the stores to verify, or run it in an ibpipe project")
        stores = workspace_stores(".")
    damaged = 0
    for store in stores:
        intact, line = verify_store(store)
        damaged += not intact
        typer.echo(f"{'ok' if intact else 'damaged':<8} {line}")
    raise typer.Exit(1 if damaged else 0)


def workspace_stores(project: str | Path) -> list[str]:
    """The Zarr stores among the outputs of the project's dvc.yaml, in stage order."""
    found = []
    for stage in read_pipeline(project).values():
        for out in stage.get("outs", []):
            name = next(iter(out)) if isinstance(out, dict) else out
            if str(name).endswith(".zarr") and name not in found:
                found.append(str(Path(project) / name) if str(project) != "." else name)
    return found


@app.command()
def params(
    params_file: Annotated[Path, typer.Argument(help="params file to check")] = Path("params.yaml"),
    show: Annotated[bool, typer.Option(help="print every key with its value and meaning")] = True,
    schema: Annotated[bool, typer.Option("--schema", help="print the JSON Schema of params.yaml and stop")] = False,
    reference: Annotated[
        Path | None, typer.Option(help="write the params reference (Markdown) to this file and stop")
    ] = None,
) -> None:
    """Check a params file; print every key, its value and what it means (or the schema, or the reference)."""
    from ibpipe.config.params import params_schema

    if schema:
        typer.echo(json.dumps(params_schema(), indent=2))
        return
    if reference is not None:
        from ibpipe.config.reference import params_reference

        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_text(params_reference())
        return
    try:
        validated = load_params(params_file)
    except ParamsError as error:
        _fail(str(error))
    if not show:
        return
    for name, section in validated.items():
        for key, spec in type(section).model_fields.items():
            typer.echo(f"{name}.{key:<18} {getattr(section, key)!s:<22} {spec.description}")


@app.command()
def summary(
    project: Annotated[Path, typer.Argument(help="project folder of the run (its reports/ folder is read)")] = Path(
        "."
    ),
) -> None:
    """Print the verdicts and main numbers of the last run as tables: the first thing to read after a run."""
    from ibpipe.errors import UserError
    from ibpipe.summary import run_summary

    try:
        typer.echo(run_summary(project), nl=False)
    except UserError as error:
        _fail(str(error))


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


@app.command()
def stages(
    deps: Annotated[
        bool, typer.Option(help="print the code each stage imports, marked where dvc.yaml differs")
    ] = False,
    write: Annotated[bool, typer.Option(help="write dvc.yaml from the stage graph in ibpipe/pipeline.py")] = False,
    check: Annotated[
        bool, typer.Option(help="exit 1, showing the difference, if dvc.yaml is not what --write writes")
    ] = False,
) -> None:
    """List the stages of dvc.yaml and their commands; --write writes the file from the code, --check compares."""
    if write:
        typer.echo(f"{PIPELINE_FILE} {'written' if write_pipeline('.') else 'already up to date'}")
        return
    if check:
        difference = pipeline_difference(".")
        typer.echo("\n".join(difference) if difference else f"{PIPELINE_FILE} is up to date")
        raise typer.Exit(1 if difference else 0)
    if not Path(PIPELINE_FILE).is_file():
        _fail(
            f"no {PIPELINE_FILE} in {Path.cwd()}: run `stages` in an ibpipe project (the folder that holds "
            f"{PIPELINE_FILE}), or write one there with `python -m ibpipe stages --write`"
        )
    for name, stage in read_pipeline(".").items():
        if not deps:
            typer.echo(f"{name:<18} {' '.join(stage['cmd'].split())}")
            continue
        imported, declared = code_dependencies(stage_script(stage), "."), declared_code(stage, ".")
        typer.echo(f"{name}:")
        for path in sorted(imported):
            typer.echo(f"  {path}{'' if path in declared else '   <- missing from deps'}")
        for path in sorted(declared - imported):
            typer.echo(f"  {path}   <- listed but never imported")
