"""Many runs side by side: the metrics of DVC experiments, git revisions or the workspace along a ``run`` dim.

Runs are read through ``dvc.api`` (metrics.nc with ``dvc.api.open``, params with ``dvc.api.params_show``).
Epochs are aligned by an outer join: the union of all runs' measured epochs, NaN where a run did not
measure an epoch. Nothing is interpolated, so every number in compare.nc was measured; the curves and
the compression statistics of each run use its own measured epochs (NaN skipped).

A ``trial`` dim (several seeds of one configuration), when the runs have one, is kept: the figures draw
the trial mean with a band, and the difference between two runs is tested over trials.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.errors import InputError
from ibpipe.infoplane.compression import FINAL_TO_PEAK_RANGE, compression_statistics, trial_interval
from ibpipe.io.attrs import PARAMS_ATTR

WORKSPACE_NAMES = ("workspace", ".")
METRICS_PATH = "reports/metrics.nc"
# Dims the comparison understands; any other (a `reduction`, a `split`) is reduced to its first entry.
KNOWN_DIMS = ("run", "epoch", "layer", "estimator", "trial", "bound")
PERMUTATIONS = 10_000


@dataclass(frozen=True)
class Run:
    name: str
    metrics: xr.Dataset
    params: dict[str, Any]


def load_run(rev: str, repo: str | Path = ".", metrics_path: str = METRICS_PATH) -> Run:
    """One run's metrics Dataset and flat (dotted) params, from the workspace or a DVC/git revision."""
    import dvc.api

    workspace = rev in WORKSPACE_NAMES
    name = "workspace" if workspace else rev
    try:
        params = dvc.api.params_show(repo=str(repo), rev=None if workspace else rev)
        with dvc.api.open(metrics_path, repo=str(repo), rev=None if workspace else rev, mode="rb") as handle:
            payload = handle.read()
    except Exception as error:  # dvc raises many kinds (unknown rev, missing output, no repository)
        raise InputError(f"cannot read {metrics_path} of run {name!r} in {repo}: {error}") from error
    # The netCDF4 engine reads files, not bytes: go through a temporary file.
    with tempfile.NamedTemporaryFile(suffix=".nc") as temporary:
        Path(temporary.name).write_bytes(payload)
        with xr.open_dataset(temporary.name, engine="netcdf4") as dataset:
            metrics = dataset.load()
    return Run(name, metrics, flatten_params(params))


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted keys: {"model": {"activation": "tanh"}} -> {"model.activation": "tanh"}."""
    flat: dict[str, Any] = {}
    for name, value in params.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def differing_params(runs: Sequence[Run]) -> dict[str, list[Any]]:
    """The params whose values are not the same in every run (a key missing from a run counts as differing)."""
    keys = sorted({key for run in runs for key in run.params})
    missing = object()
    differing = {}
    for key in keys:
        values = [run.params.get(key, missing) for run in runs]
        if any(_canonical(value) != _canonical(values[0]) for value in values[1:]):
            differing[key] = [None if value is missing else value for value in values]
    return differing


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _coordinate_values(values: list[Any]) -> np.ndarray:
    """One netCDF-storable array for a param's values across runs: numbers stay numbers, the rest become text."""
    if all(isinstance(v, bool) for v in values) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        return np.asarray([v if isinstance(v, str) else _canonical(v) for v in values], dtype=object)
    return np.asarray(values, dtype=float if any(isinstance(v, float) for v in values) else np.int64)


def compare_dataset(runs: Sequence[Run]) -> xr.Dataset:
    """The runs' metrics along a ``run`` dim: epochs (and layers, estimators) outer-joined, NaN where absent.

    Differing params become coordinates along ``run`` named by their dotted key; H(X), H(Y) and the
    full params JSON of each run are kept along ``run`` too. Variable names are those of metrics.nc.
    """
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise InputError(f"runs must be distinct; got {', '.join(names)}")
    parts = [run.metrics.expand_dims(run=[run.name]) for run in runs]
    combined = xr.concat(
        parts, dim="run", join="outer", data_vars="all", coords="minimal", compat="override", combine_attrs="drop"
    )
    combined = combined.sortby("epoch")
    for key, values in differing_params(runs).items():
        combined = combined.assign_coords({key: ("run", _coordinate_values(values))})
    for attr in ("H_X", "H_Y"):
        combined = combined.assign_coords(
            {attr: ("run", [float(run.metrics.attrs.get(attr, np.nan)) for run in runs], {"units": "bit"})}
        )
    combined = combined.assign_coords(params=("run", [str(run.metrics.attrs.get(PARAMS_ATTR, "")) for run in runs]))
    combined.attrs.update(
        {
            "entropy_units": "bit",
            "epoch_alignment": "outer join on epoch: the union of the runs' measured epochs, NaN where a run "
            "did not measure an epoch (no interpolation)",
            "differing_params": ", ".join(differing_params(runs)) or "none",
        }
    )
    return combined


def focus(dataset: xr.Dataset) -> tuple[xr.Dataset, str]:
    """Reduce dims the comparison does not facet on (e.g. ``reduction``, ``split``) to their first entry.

    Returns the reduced Dataset and a note naming what was chosen ('' when nothing was).
    """
    chosen = {dim: dataset[dim].values[0] for dim in dataset.dims if dim not in KNOWN_DIMS and dim in dataset.coords}
    extra = [dim for dim in dataset.dims if dim not in KNOWN_DIMS and dim not in dataset.coords]
    reduced = dataset.isel(dict.fromkeys(extra, 0)).sel(chosen)
    note = ", ".join(f"{dim} = {value}" for dim, value in chosen.items())
    return reduced, note


def permutation_test(first: np.ndarray, second: np.ndarray, seed: int = 0) -> float:
    """Two-sided p-value of a difference of means between two samples (trials), by permutation.

    Exact over all splits when there are at most ``PERMUTATIONS`` of them, otherwise ``PERMUTATIONS``
    random ones (the observed split counted once, so p > 0). NaN when either sample has fewer than
    two values: with one trial per run there is no spread to test a difference against.
    """
    first, second = np.asarray(first, float), np.asarray(second, float)
    first, second = first[np.isfinite(first)], second[np.isfinite(second)]
    if len(first) < 2 or len(second) < 2:
        return math.nan
    pooled = np.concatenate([first, second])
    observed = abs(first.mean() - second.mean())
    tolerance = 1e-12 * max(1.0, observed)
    n, k = len(pooled), len(first)
    if math.comb(n, k) <= PERMUTATIONS:
        splits = np.array(list(combinations(range(n), k)))
        chosen = np.zeros((len(splits), n), dtype=bool)
        np.put_along_axis(chosen, splits, True, axis=1)
        sums = chosen @ pooled
        differences = np.abs(sums / k - (pooled.sum() - sums) / (n - k))
        return float(np.mean(differences >= observed - tolerance))
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.broadcast_to(pooled, (PERMUTATIONS, n)), axis=1)
    differences = np.abs(shuffled[:, :k].mean(axis=1) - shuffled[:, k:].mean(axis=1))
    return float((1 + np.sum(differences >= observed - tolerance)) / (PERMUTATIONS + 1))


def compression_table(compared: xr.Dataset, estimator: str) -> list[dict[str, Any]]:
    """One row per (run, layer): trial means of the compression statistics and a test against the first run.

    ``p_vs_first`` is the permutation p-value of final/peak of this run against the first run's, over
    trials (NaN with fewer than two trials on either side, and for the first run itself).
    """
    statistics = compression_statistics(compared.I_XT.sel(estimator=estimator))
    rows = []
    baseline = str(compared.run.values[0])
    for run in compared.run.values.tolist():
        for layer in compared.layer.values.tolist():
            cell = statistics.sel(run=run, layer=layer)
            ratios = np.atleast_1d(cell.final_to_peak.values)
            reference = np.atleast_1d(statistics.final_to_peak.sel(run=baseline, layer=layer).values)
            trials = int(np.isfinite(ratios).sum())
            if trials == 0:
                continue
            spread = float(np.nanstd(ratios, ddof=1)) if trials > 1 else math.nan
            _, low, high = trial_interval(ratios, bounds=FINAL_TO_PEAK_RANGE)
            rows.append(
                {
                    "run": run,
                    "layer": layer,
                    "trials": trials,
                    "peak_I_XT": float(np.nanmean(cell.peak_I_XT.values)),
                    "peak_epoch": float(np.nanmedian(cell.peak_epoch.values)),
                    "final_I_XT": float(np.nanmean(cell.final_I_XT.values)),
                    "final_to_peak": float(np.nanmean(ratios)),
                    "final_to_peak_sd": spread,
                    "final_to_peak_low": low,
                    "final_to_peak_high": high,
                    "p_vs_first": math.nan if run == baseline else permutation_test(ratios, reference),
                }
            )
    return rows


TABLE_COLUMNS = {
    "run": "run",
    "layer": "layer",
    "trials": "trials",
    "peak_I_XT": "peak I(X;T) [bit]",
    "peak_epoch": "peak epoch",
    "final_I_XT": "final I(X;T) [bit]",
    "final_to_peak": "final/peak",
    "final_to_peak_sd": "sd over trials",
    "final_to_peak_low": "95 % t-interval low",
    "final_to_peak_high": "high",
    "p_vs_first": "p (vs first run)",
}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def table_markdown(rows: Sequence[Mapping[str, Any]], estimator: str, baseline: str) -> str:
    header = "| " + " | ".join(TABLE_COLUMNS.values()) + " |"
    rule = "|" + "|".join("---" for _ in TABLE_COLUMNS) + "|"
    lines = [
        f"# Compression statistics ({estimator}, I(X;T) in bits)",
        "",
        "Peak and final I(X;T) are trial means (median epoch); final/peak < 1 means compression after the peak;",
        "its 95 % Student-t interval over trials is clipped to [0, 1], as in `python -m ibpipe summary`.",
        f"p: two-sided permutation test of mean final/peak over trials against the first run ({baseline});",
        "n/a with one trial per run (no spread to test a difference against).",
        "",
        header,
        rule,
        *("| " + " | ".join(_cell(row[column]) for column in TABLE_COLUMNS) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def table_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [",".join(TABLE_COLUMNS)]
    lines += [",".join("" if _cell(row[c]) == "n/a" else str(row[c]) for c in TABLE_COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def write_comparison(
    revs: Sequence[str], out: str | Path, repo: str | Path = ".", estimator: str | None = None, dpi: int = 120
) -> list[dict[str, Any]]:
    """Read the runs, write OUT/compare.nc, the figures and the compression table; return the table's rows."""
    from ibpipe.infoplane.compare_plots import information_over_epochs, information_planes
    from ibpipe.io.files import write_figures, write_metrics

    if len(revs) < 1:
        raise InputError("compare needs at least one run (workspace, an experiment name or a git revision)")
    compared = compare_dataset([load_run(rev, repo) for rev in revs])
    common = [name for name in compared.estimator.values.tolist() if compared.I_XT.sel(estimator=name).notnull().any()]
    chosen = estimator or ("plugin" if "plugin" in common else common[0])
    if chosen not in compared.estimator.values:
        raise InputError(f"estimator {chosen!r} was not measured; measured: {', '.join(common)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_metrics(out / "compare.nc", compared)
    focused, note = focus(compared)
    figures = {
        "information_planes": information_planes(focused, chosen, note),
        "I_XT_over_epochs": information_over_epochs(focused, chosen, "I_XT", note),
        "I_TY_over_epochs": information_over_epochs(focused, chosen, "I_TY", note),
    }
    write_figures(out / "figures", figures, dpi)
    rows = compression_table(focused, chosen)
    (out / "compression.md").write_text(table_markdown(rows, chosen, str(compared.run.values[0])))
    (out / "compression.csv").write_text(table_csv(rows))
    return rows
