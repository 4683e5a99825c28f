"""The first thing to read after a run: its verdicts and main numbers as plain-text tables.

``run_summary(root)`` reads the run's files under ``root``/reports, one section per experiment, and
returns the text `python -m ibpipe summary` prints:

- training: the last epoch's accuracy and loss of the train and test rows (DVCLive's curves);
- information plane: per layer I(X;T) and I(T;Y) at the last measured epoch, the final/peak of I(X;T)
  with its interval over trials and the verdict code (compress, none, unclear);
- autoencoder curves: the bends of the entropy curves, the MSE elbow and the data's dimensions;
- neuron space: the full net's test score, the parameters that reach the threshold, and the verdict
  code of W2 against Euclidean (better, worse, none, unclear) with its permutation test.

The small DVC metrics files (``METRIC_FILES``, kept in git) are enough for a short section; the netCDF
files beside them (DVC outputs) give the details when they are present. An experiment whose files are
absent is left out; no file at all is a ``MissingFileError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ibpipe.errors import MissingFileError

TRAINING_FOLDER = "reports/training"
TRAINING_METRIC = f"{TRAINING_FOLDER}/metrics.json"
INFOPLANE_METRIC, INFOPLANE_DATA = "reports/metrics.json", "reports/metrics.nc"
AE_METRIC, AE_DATA = "reports/ae_entropy.json", "reports/ae_entropy.nc"
NEURONS_METRIC, NEURONS_DATA = "reports/compression.json", "reports/compression.nc"
# The DVC metrics of the pipeline (ibpipe/pipeline.py declares the same files; a test holds them together).
METRIC_FILES = (TRAINING_METRIC, INFOPLANE_METRIC, AE_METRIC, NEURONS_METRIC)


def run_summary(root: str | Path = ".") -> str:
    """The verdicts and main numbers of the run whose files are under ``root`` (a project folder)."""
    root = Path(root)
    sections = [section(root) for files, section in _SECTIONS if any((root / path).exists() for path in files)]
    if not sections:
        raise MissingFileError(
            f"no run found in {root.resolve()}: none of {', '.join(METRIC_FILES)} exists; run `make repro`"
            " (or `dvc repro`) there first"
        )
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], indent: int = 2) -> list[str]:
    """Left-aligned columns two spaces apart (None prints as -), one string per line."""
    cells = [[_cell(value) for value in row] for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    return [" " * indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(value)


def _number(value: Any, digits: int = 3) -> str | None:
    if value is None:
        return None
    value = float(value)
    return None if not math.isfinite(value) else f"{value:.{digits}f}"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise MissingFileError(f"{path} cannot be read as JSON ({error}); rerun the stage that writes it") from error


def _open(path: Path):
    from ibpipe.io.files import open_netcdf

    return open_netcdf(path)


def _training(root: Path) -> list[str]:
    folder = root / TRAINING_FOLDER
    last: dict[str, dict[str, float]] = {}
    epoch = None
    for split in ("train", "test"):
        for metric in ("accuracy", "loss"):
            rows = _tsv_rows(folder / "plots" / "metrics" / split / f"{metric}.tsv")
            if rows:
                epoch, value = rows[-1]
                last.setdefault(split, {})[metric] = value
    if not last:  # the curves are absent: the metric alone
        last = {split: dict(values) for split, values in _read_json(root / TRAINING_METRIC).items()}
    rows = [
        [split, _number(values.get("accuracy"), 4), _number(values.get("loss"), 4)] for split, values in last.items()
    ]
    title = "training" + (f": last epoch {epoch}, mean over trials" if epoch is not None else "")
    return [title, *table(["split", "accuracy", "loss"], rows)]


def _tsv_rows(path: Path) -> list[tuple[int, float]]:
    """(step, value) rows of a DVCLive curve; none when absent."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()[1:]
    return [(int(float(step)), float(value)) for step, value in (line.split("\t")[:2] for line in lines if line)]


def _information_plane(root: Path) -> list[str]:
    from ibpipe.infoplane.compression import VERDICT_RULE

    if not (root / INFOPLANE_DATA).exists():
        return _metric_rows("information plane", root / INFOPLANE_METRIC, ["layer", "final/peak", "verdict"])
    lines: list[str] = []
    with _open(root / INFOPLANE_DATA) as metrics:
        for label, group in _groups(metrics):
            lines.extend(_information_group(label, group))
    return [*lines, "  verdict on the 95% interval of final/peak over trials:", f"    {VERDICT_RULE}"]


def _groups(metrics: Any) -> Iterator[tuple[str, Any]]:
    """(label, Dataset) per split and named reduction ('' without them)."""
    dims = [dim for dim in ("split", "reduction") if dim in metrics.dims]
    if not dims:
        yield "", metrics
        return
    import itertools

    for values in itertools.product(*(metrics[dim].values.tolist() for dim in dims)):
        selection = dict(zip(dims, values))
        yield ", ".join(f"{dim} {value}" for dim, value in selection.items()), metrics.sel(selection)


def _information_group(label: str, metrics: Any) -> list[str]:
    from ibpipe.infoplane.metrics import information_summary

    summary = information_summary(metrics)
    compression = summary["compression"]
    trials = compression["trials"]
    title = (
        f"information plane{f' ({label})' if label else ''}: {summary['estimator']} estimator,"
        f" epoch {summary['epoch']}, {trials} trial{'s' if trials != 1 else ''};"
        f" H(X) {summary['H_X']:.3f} bits, H(Y) {summary['H_Y']:.3f} bits"
    )
    rows = []
    for layer, values in summary["layers"].items():
        cell = compression["layers"][layer]
        mean, low, high = cell["final_to_peak"]
        interval = f"[{low:.2f}, {high:.2f}]" if math.isfinite(low) else None
        rows.append(
            [
                layer,
                _number(values["I_XT"]),
                _number(values["I_TY"]),
                _number(cell["peak_I_XT"]),
                _number(mean, 2),
                interval,
                cell["code"],
            ]
        )
    header = ["layer", "I(X;T)", "I(T;Y)", "peak I(X;T)", "final/peak", "95% interval", "verdict"]
    note = (
        f"  I in bits, mean over trials; final/peak: {compression['estimator']}'s I(X;T) at the last epoch / its peak"
    )
    return [title, *table(header, rows), note]


def _metric_rows(title: str, path: Path, header: list[str]) -> list[str]:
    """A section from a DVC metric alone ({layer: {final_to_peak, verdict}}), its netCDF being absent."""
    rows = [
        [name, _number(values.get("final_to_peak"), 2), values.get("verdict")]
        for name, values in _leaves(_read_json(path))
    ]
    return [f"{title} ({path.name}; `dvc pull` the .nc beside it for every layer)", *table(header, rows)]


def _leaves(metric: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in metric.items():
        if isinstance(value, dict) and any(isinstance(inner, dict) for inner in value.values()):
            yield from _leaves(value, f"{prefix}{key}.")
        elif isinstance(value, dict):
            yield f"{prefix}{key}", value


def _autoencoder(root: Path) -> list[str]:
    if not (root / AE_DATA).exists():
        metric = _read_json(root / AE_METRIC)
        return [f"autoencoder curves ({AE_METRIC})", *table(["bend H_std"], [[_number(metric.get("bend_H_std"), 2)]])]
    with _open(root / AE_DATA) as curves:
        attrs = dict(curves.attrs)
        sizes = curves.d.values.tolist()
    true_dim = int(attrs.get("true_dim", -1))
    header = ["bend H_raw", "bend H_std", "bend I_noise", "MSE elbow", "corrdim data", "TwoNN data", "true dim"]
    values = [attrs.get(name) for name in ("bend_H_raw", "bend_H_std", "bend_I_noise", "mse_elbow")]
    values += [attrs.get("corrdim_data"), attrs.get("nn_dim_data")]
    row = [*(_number(value, 2) for value in values), true_dim if true_dim > 0 else None]
    title = f"autoencoder curves: {attrs.get('source', 'points')}, code sizes {sizes[0]}..{sizes[-1]}"
    return [title, *table(header, [row])]


def _neurons(root: Path) -> list[str]:
    if not (root / NEURONS_DATA).exists():
        metric = _read_json(root / NEURONS_METRIC)
        rows = [["W2 vs Euclidean", metric.get("w2", {}).get("verdict")]]
        return [f"neuron space ({NEURONS_METRIC})", *table(["", ""], rows)[1:]]
    from ibpipe.neurons.compression_report import compression_report

    with _open(root / NEURONS_DATA) as curves:
        threshold = json.loads(curves.attrs.get("params", "{}")).get("neurons.compress", {}).get("mse_threshold", 0.0)
        report = compression_report(curves, threshold)
        score = curves.attrs["primary_score"]
        metrics = curves.metric.values.tolist()
    title = f"neuron space: {report['dataset']}, {report['covariance_source']} covariances"
    at = next((key.rsplit("_", 1)[0] for key in report if key.startswith("params_at_")), None)
    rows = [[f"full net: test {score}", _number(report.get(f"{score}_full"), 4)]]
    rows.append(["full net: parameters", report["params_full"]])
    if at is not None:
        reached = ", ".join(f"{metric} {report.get(f'{at}_{metric}') or 'never'}" for metric in metrics)
        level = f"{score} >= 0.9" if score == "accuracy" else f"{score} <= {threshold:g}"
        rows.append([f"fewest parameters with {level}", reached])
    if "verdict_code" in report:
        code = report["verdict_code"]
        low, high = report["auc_difference_ci95"]
        rows.append(["W2 vs Euclidean", f"{code} -- {report['verdict']}"])
        rows.append(
            [
                "  area difference W2 - Euclidean",
                f"{report['auc_difference_w2_minus_euclidean']:+.4f} [{low:+.4f}, {high:+.4f}] over"
                f" {report['restarts']} restarts, permutation p {report['auc_permutation_p']:.3g}",
            ]
        )
    return [title, *table(["", ""], rows)[1:]]


# (files, section): a section is printed when any of its files exists
_SECTIONS = (
    ((TRAINING_METRIC,), _training),
    ((INFOPLANE_METRIC, INFOPLANE_DATA), _information_plane),
    ((AE_METRIC, AE_DATA), _autoencoder),
    ((NEURONS_METRIC, NEURONS_DATA), _neurons),
)
