"""Commands of the information-plane experiment: the metrics table of a run, and one layer outside the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ibpipe.estimators.registry import ESTIMATORS

# sample-propagation needs repeated noisy passes of a network, which a saved activation array is not
ARRAY_ESTIMATORS = [name for name, info in ESTIMATORS.items() if info.needs != "pre_noise"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def metrics(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=True, help="metrics file written by the estimate stage")
    ] = Path("reports/metrics.nc"),
    epoch: Annotated[int | None, typer.Option(help="epoch to show (default: the last measured)")] = None,
    estimator: Annotated[str | None, typer.Option(help="estimator to show (default: all)")] = None,
) -> None:
    """Print H(T), I(X;T) and I(T;Y) in bits per layer for one epoch of a run, with the codes' distinct states."""
    from ibpipe.io.files import open_metrics

    dataset = open_metrics(path)
    measured = dataset.estimator.values.tolist()
    if estimator is not None and estimator not in measured:
        _fail(f"--estimator {estimator!r} was not measured in {path}; measured: {', '.join(measured)}")
    chosen = int(dataset.epoch[-1]) if epoch is None else epoch
    if chosen not in dataset.epoch.values:
        _fail(f"epoch {chosen} was not measured; measured epochs run {int(dataset.epoch[0])}..{int(dataset.epoch[-1])}")
    estimators = measured if estimator is None else [estimator]
    typer.echo(f"epoch {chosen}   H(X) = {dataset.attrs['H_X']:.4f} bits   H(Y) = {dataset.attrs['H_Y']:.4f} bits")
    typer.echo(f"{'estimator':<12} {'layer':<10} {'width':>5} {'H(T)':>8} {'I(X;T)':>8} {'I(T;Y)':>8} {'states/N':>8}")
    row = dataset.sel(epoch=chosen)
    if "trial" in row.dims:
        typer.echo(f"means over {row.sizes['trial']} trials")
        row = row.mean("trial", keep_attrs=True)
    for name in estimators:
        for layer in dataset.layer.values.tolist():
            cell = row.sel(layer=layer, estimator=name)
            ratio = f"{float(cell.state_ratio):>8.4f}" if "state_ratio" in cell else f"{'-':>8}"
            typer.echo(
                f"{name:<12} {layer:<10} {int(cell.layer_width):>5} "
                f"{float(cell.H_T):>8.4f} {float(cell.I_XT):>8.4f} {float(cell.I_TY):>8.4f} {ratio}"
            )


@app.command()
def information(
    activations: Annotated[Path, typer.Argument(exists=True, help=".npy array (n_samples, n_units) of one layer")],
    labels: Annotated[Path, typer.Argument(exists=True, help=".npy array (n_samples,) of integer labels")],
    n_bins: Annotated[int | None, typer.Option(help="Tishby bins: number of edges over --low..--high")] = None,
    low: Annotated[float, typer.Option(help="lowest bin edge")] = -1.0,
    high: Annotated[float, typer.Option(help="highest bin edge")] = 1.0,
    bin_size: Annotated[float | None, typer.Option(help="Saxe bins: floor(t / bin_size)")] = None,
    estimator: Annotated[str, typer.Option(help=f"estimator: {', '.join(ARRAY_ESTIMATORS)}")] = "plugin",
) -> None:
    """Estimate H(T), I(X;T), I(T;Y) in bits for one saved layer, outside the pipeline."""
    from ibpipe.estimators.api import information as measure

    try:
        t, y = _load_array(activations), _load_array(labels)
        values = measure(t, y, estimator, n_bins=n_bins, value_range=(low, high), bin_size=bin_size)
    except ValueError as error:
        _fail(str(error))
    for name, value in values.items():
        if name == "capped":
            typer.echo(f"capped = {value} (informations clipped to their ceilings H(X), H(Y))")
        else:
            typer.echo(f"{name} = {value:.6f} bits")


def _load_array(path: Path) -> np.ndarray:
    """A .npy array, or one sentence naming the file when it is not one (never unpickles)."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        _fail(f"{path} is not a NumPy .npy array of numbers; write it with numpy.save")


@app.command()
def compare(
    revs: Annotated[
        list[str], typer.Argument(help="runs: `workspace` (or `.`), DVC experiment names or git revisions")
    ],
    out: Annotated[Path, typer.Option(help="folder of compare.nc, figures/ and compression.md/.csv")] = Path(
        "reports/compare"
    ),
    repo: Annotated[Path, typer.Option(help="the DVC project the runs belong to")] = Path("."),
    estimator: Annotated[str | None, typer.Option(help="estimator of the figures and table (default plugin)")] = None,
    dpi: Annotated[int, typer.Option(help="resolution of the PNG figures")] = 120,
) -> None:
    """Put runs side by side: OUT/compare.nc (a `run` dim), information planes, I(X;T) overlays, a compression table."""
    from ibpipe.errors import UserError
    from ibpipe.infoplane.compare import write_comparison

    if not (repo / "dvc.yaml").is_file() and not (repo / ".dvc").is_dir():
        _fail(f"--repo {repo} is not a DVC project (no dvc.yaml or .dvc there); give the folder that holds dvc.yaml")
    try:
        write_comparison(revs, out, repo, estimator, dpi)
    except UserError as error:
        _fail(str(error))
    typer.echo(f"wrote {out / 'compare.nc'}, {out / 'figures'}, {out / 'compression.md'}")
    typer.echo((out / "compression.md").read_text())
