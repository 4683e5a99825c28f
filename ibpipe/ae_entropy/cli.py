"""Commands of the autoencoder entropy-curve experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ibpipe.ae_entropy.params import AeParams
from ibpipe.errors import ParamsError
from ibpipe.schema import load_sections

# the fewest points per manifold the validation is run with (fewer measure nothing)
MIN_SAMPLES = 10

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command("validate")
def validate(
    out: Annotated[Path, typer.Option(help="Markdown table to write (a .csv beside it)")] = Path(
        "reports/ae_validation.md"
    ),
    params_file: Annotated[Path, typer.Option(help="its ae section sets the autoencoders, bandwidth and noise")] = Path(
        "params.yaml"
    ),
    dmax: Annotated[int, typer.Option(help="code sizes 1..dmax")] = 8,
    n_samples: Annotated[int, typer.Option(help="points per manifold")] = 2000,
) -> None:
    """Autoencoder curves on synthetic manifolds of known dimension: estimated against true dimension, every curve."""
    import csv

    from ibpipe.ae_entropy.validation import validate_on_manifolds, validation_markdown
    from ibpipe.io.files import atomic_path
    from ibpipe.parallel import dask_client

    if dmax < 1:
        _fail(f"--dmax {dmax} is not allowed: the code sizes run 1..dmax, so dmax must be at least 1")
    if n_samples < MIN_SAMPLES:
        _fail(f"--n-samples {n_samples} is not allowed: each manifold needs at least {MIN_SAMPLES} points")
    try:
        (ae,) = load_sections(params_file, AeParams)
    except ParamsError as error:
        _fail(str(error))
    with dask_client(ae.scheduler, ae.workers) as client:
        rows = validate_on_manifolds(dmax, n_samples, ae.noise, ae.seed, ae, ae, client)
    table = validation_markdown(rows)
    with atomic_path(out) as temporary:
        temporary.write_text(table)
    with atomic_path(out.with_suffix(".csv")) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    typer.echo(table)
