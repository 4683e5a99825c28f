"""ibpipe: train, measure and plot the information flow of a network (a DVC pipeline)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ibpipe.config.params import load_params
from ibpipe.errors import ParamsError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__)

STAGES = ("train", "select", "dump-activations", "reduce", "estimate", "ae-entropy", "plot")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def run(
    stages: Annotated[
        list[str] | None, typer.Argument(help=f"stages to bring up to date: {', '.join(STAGES)} (default: all)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="rerun even if DVC finds the stage up to date")] = False,
    params_file: Annotated[Path, typer.Option(help="params file validated before DVC starts")] = Path("params.yaml"),
) -> None:
    """Validate params.yaml, then run `dvc repro` for the given stages (and what they depend on)."""
    for stage in stages or []:
        if stage not in STAGES:
            _fail(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    params(params_file, show=False)
    dvc = shutil.which("dvc") or _fail("dvc is not on PATH; activate the project's virtualenv (.venv/bin)")
    command = [dvc, "repro", *(["--force"] if force else []), *(stages or [])]
    raise typer.Exit(subprocess.call(command))


@app.command()
def params(
    params_file: Annotated[Path, typer.Argument(help="params file to check")] = Path("params.yaml"),
    show: Annotated[bool, typer.Option(help="print every key with its value and meaning")] = True,
) -> None:
    """Check a params file; print every key, its value and what it means."""
    try:
        validated = load_params(params_file)
    except ParamsError as error:
        _fail(str(error))
    if not show:
        return
    for name, section in validated.items():
        for spec in section.keys():
            typer.echo(f"{name}.{spec.name:<18} {getattr(section, spec.name)!s:<22} {spec.metadata['doc']}")


@app.command()
def metrics(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=True, help="metrics file written by the estimate stage")
    ] = Path("reports/metrics.nc"),
    epoch: Annotated[int | None, typer.Option(help="epoch to show (default: the last measured)")] = None,
    estimator: Annotated[str | None, typer.Option(help="estimator to show (default: all)")] = None,
) -> None:
    """Print H(T), I(X;T) and I(T;Y) per layer for one epoch of a run, in bits, with the distinct states of the codes."""
    from ibpipe.io.files import open_metrics

    dataset = open_metrics(path)
    chosen = int(dataset.epoch[-1]) if epoch is None else epoch
    if chosen not in dataset.epoch.values:
        _fail(f"epoch {chosen} was not measured; measured epochs run {int(dataset.epoch[0])}..{int(dataset.epoch[-1])}")
    estimators = dataset.estimator.values.tolist() if estimator is None else [estimator]
    typer.echo(f"epoch {chosen}   H(X) = {dataset.attrs['H_X']:.4f} bits   H(Y) = {dataset.attrs['H_Y']:.4f} bits")
    typer.echo(f"{'estimator':<12} {'layer':<10} {'width':>5} {'H(T)':>8} {'I(X;T)':>8} {'I(T;Y)':>8} {'states/N':>8}")
    row = dataset.sel(epoch=chosen)
    for name in estimators:
        for layer in dataset.layer.values.tolist():
            cell = row.sel(layer=layer, estimator=name)
            ratio = f"{float(cell.state_ratio):>8.4f}" if "state_ratio" in cell else f"{'-':>8}"
            typer.echo(
                f"{name:<12} {layer:<10} {int(cell.layer_width):>5} {float(cell.H_T):>8.4f} {float(cell.I_XT):>8.4f} {float(cell.I_TY):>8.4f} {ratio}"
            )


@app.command()
def information(
    activations: Annotated[Path, typer.Argument(exists=True, help=".npy array (n_samples, n_units) of one layer")],
    labels: Annotated[Path, typer.Argument(exists=True, help=".npy array (n_samples,) of integer labels")],
    n_bins: Annotated[int | None, typer.Option(help="Tishby bins: number of edges over --low..--high")] = None,
    low: Annotated[float, typer.Option(help="lowest bin edge")] = -1.0,
    high: Annotated[float, typer.Option(help="highest bin edge")] = 1.0,
    bin_size: Annotated[float | None, typer.Option(help="Saxe bins: floor(t / bin_size)")] = None,
    estimator: Annotated[str, typer.Option(help="estimator name")] = "plugin",
) -> None:
    """Estimate H(T), I(X;T), I(T;Y) in bits for one saved layer, outside the pipeline."""
    from ibpipe.infoplane.measure import information as measure

    try:
        values = measure(
            np.load(activations), np.load(labels), estimator, n_bins=n_bins, value_range=(low, high), bin_size=bin_size
        )
    except ValueError as error:
        _fail(str(error))
    for name, value in values.items():
        typer.echo(f"{name} = {value:.6f} bits")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


@app.command("ae-validation")
def ae_validation(
    out: Annotated[Path, typer.Option(help="Markdown table to write (a .csv beside it)")] = Path(
        "reports/ae_validation.md"
    ),
    params_file: Annotated[Path, typer.Option(help="its ae section sets the autoencoders, bandwidth and noise")] = Path(
        "params.yaml"
    ),
    dmax: Annotated[int, typer.Option(help="code sizes 1..dmax")] = 8,
    n_samples: Annotated[int, typer.Option(help="points per manifold")] = 2000,
) -> None:
    """Autoencoder curves on synthetic manifolds of known dimension: estimated against true dimension for every curve and estimator."""
    import csv

    from ibpipe.ae_entropy.autoencoder import AutoencoderSettings, CodeMeasureSettings
    from ibpipe.ae_entropy.validation import validate_on_manifolds, validation_markdown
    from ibpipe.io.files import atomic_path
    from ibpipe.parallel import dask_client

    try:
        ae = load_params(params_file).ae
    except ParamsError as error:
        _fail(str(error))
    training, measuring = AutoencoderSettings.from_params(ae), CodeMeasureSettings.from_params(ae)
    with dask_client(ae.scheduler, ae.workers) as client:
        rows = validate_on_manifolds(dmax, n_samples, ae.noise, ae.seed, training, measuring, client)
    table = validation_markdown(rows)
    with atomic_path(out) as temporary:
        temporary.write_text(table)
    with atomic_path(out.with_suffix(".csv")) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    typer.echo(table)
