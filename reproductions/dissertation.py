"""The dissertation on measuring mutual information with delta-skip, on the 12-bit net (Shwartz-Ziv & Tishby data).

Four results, each from the pipeline's own stages:

1. the full curve: every epoch of a tanh run measured (plug-in, 30 bins on [-1, 1]);
2. delta-skip against a simple skip: which epochs ``select.method: delta-exact`` (and ``delta-approx``) measures,
   and how far a curve drawn through them, or through every k-th epoch with as many epochs, strays from the full
   curve (the worst gap, as a share of H(X) or H(Y)), besides the largest distance between consecutive measured
   epochs (the delta guarantee);
3. KDE information planes at s^2 = 0.05 (Kolchinsky & Tracey upper and lower bounds) and the one-epoch plane
   (all layers at one epoch, one point per layer, per estimator);
4. "as if random": ``estimate.window`` pools consecutive epochs so the weights' jitter acts as noise, on the
   tanh run and on a ReLU run (counting estimators: the window is defined for plugin and miller-madow).

    python reproductions/dissertation.py            # the study (reports/reproductions/dissertation/)
    python reproductions/dissertation.py --smoke    # seconds: checks the recipe still runs
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

STUDY = "dissertation"
EPOCHS = 1500  # tanh run, every epoch measured
RELU_EPOCHS = 400  # ReLU run, every epoch measured
DELTA = 0.02
WINDOW = 10
NOISE_VARIANCE = 0.05
KDE_POINTS = 60  # log-spaced points of the KDE run (before duplicates drop)
QUIET = {"estimate.dimensions": [], "estimate.scheduler": "synchronous", "train.trials": 1, "select.workers": 1}


def main() -> None:
    arguments = common.common_arguments(__doc__.splitlines()[0]).parse_args()
    smoke = arguments.smoke
    epochs, relu_epochs, kde_points = (12, 12, 6) if smoke else (EPOCHS, RELU_EPOCHS, KDE_POINTS)
    study = f"{STUDY}-smoke" if smoke else STUDY
    out = common.out_folder(study)
    rows: list[dict] = []

    common.say(f"full curve: tanh, {epochs} epochs, every epoch measured")
    full = common.run_folder(
        study,
        "tanh",
        {**QUIET, "train.epochs": epochs, "select.method": "all", "estimate.estimators": ["plugin"]},
    )
    common.stages(full, "train", "select", "dump-activations", "reduce", "estimate")
    common.set_params(full, {"estimate.window": WINDOW})
    common.stage(full, "estimate", out=f"reports/metrics_window{WINDOW}.nc", summary="reports/window.json")
    searches = {}
    for method in ("delta-exact", "delta-approx"):
        common.set_params(full, {"select.method": method, "select.delta": DELTA})
        common.stage(full, "select", out=f"data/selection_{method}.json")
        searches[method] = json.loads((full / "data" / f"selection_{method}.json").read_text())
    rows += delta_skip_rows(full, epochs, searches, out, arguments.publish, study)

    common.say(f"KDE planes at s^2 = {NOISE_VARIANCE}: log-spaced epochs of the same run")
    kde = common.run_folder(
        study,
        "kde",
        {
            **QUIET,
            "train.epochs": epochs,
            "select.method": "log",
            "select.n_points": kde_points,
            "estimate.estimators": ["plugin", "kde-upper", "kde-lower"],
            "estimate.noise_variance": NOISE_VARIANCE,
        },
    )
    weights = str(full / "data" / "weights.zarr")
    common.stage(kde, "select", weights=weights)
    common.stage(kde, "dump-activations", weights=weights)
    common.stages(kde, "reduce", "estimate")
    common.stage(kde, "plot", weights=weights)
    for name in ("information_plane_kde-upper.png", "information_plane_kde-lower.png"):
        common.copy_figure(kde / "reports" / "figures" / name, study, name, arguments.publish)
    rows += one_epoch_rows(kde, out, arguments.publish, study)

    common.say(f"as if random: ReLU, {relu_epochs} epochs, every epoch, windows of {WINDOW} epochs")
    relu = common.run_folder(
        study,
        "relu",
        {
            **QUIET,
            "train.epochs": relu_epochs,
            "model.activation": "relu",
            "reduce.value_range": "data",
            "select.method": "all",
            "estimate.estimators": ["plugin"],
        },
    )
    common.stages(relu, "train", "select", "dump-activations", "reduce", "estimate")
    common.set_params(relu, {"estimate.window": WINDOW})
    common.stage(relu, "estimate", out=f"reports/metrics_window{WINDOW}.nc", summary="reports/window.json")
    rows += window_rows({"tanh": full, "relu": relu}, out, arguments.publish, study)
    common.write_table(out, rows, title="Dissertation reproduction: 12-bit net (plug-in bits unless named)")
    common.say(f"done: {common.shown(out)}")


def _full_curve(folder: Path, name: str = "metrics.nc"):
    """(epochs, values (epoch, layer, 2) of I(X;T), I(T;Y) in bits, layers, (H(X), H(Y)))."""
    import numpy as np
    import xarray as xr

    with xr.open_dataset(folder / "reports" / name) as metrics:
        cells = metrics.sel(estimator="plugin").isel(trial=0)
        values = np.stack([cells.I_XT.values, cells.I_TY.values], axis=-1)
        return (
            metrics.epoch.values,
            values,
            [str(layer) for layer in metrics.layer.values],
            (float(metrics.attrs["H_X"]), float(metrics.attrs["H_Y"])),
        )


def schedule_errors(epochs, values, entropies, measured) -> tuple[float, float]:
    """(largest distance between consecutive measured epochs, worst gap of the curve through them to the full one).

    Both are max over layers and s in {X, Y} of |change of I(s;T)| / H(s): the first is the delta-skip distance
    (``ibpipe.infoplane.selection.information_distance``), the second compares the straight lines between the
    measured epochs with every epoch's measured value.
    """
    import numpy as np

    from ibpipe.infoplane.selection import information_distance

    index = {int(epoch): i for i, epoch in enumerate(epochs)}
    rows = [index[int(epoch)] for epoch in measured]
    consecutive = max(
        (
            information_distance(values[a], values[b], entropies)
            for a, b in itertools.pairwise(rows)
            if epochs[b] - epochs[a] > 1
        ),
        default=0.0,
    )
    scale = np.asarray(entropies)
    worst = 0.0
    for layer in range(values.shape[1]):
        for source in range(2):
            line = np.interp(epochs, epochs[rows], values[rows, layer, source])
            worst = max(worst, float(np.max(np.abs(line - values[:, layer, source])) / scale[source]))
    return consecutive, worst


def delta_skip_rows(full: Path, n_epochs: int, searches: dict, out: Path, publish: bool, study: str) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ibpipe.infoplane.selection import every_nth_epoch, log_spaced_epochs

    epochs, values, layers, entropies = _full_curve(full)
    exact = searches["delta-exact"]["epochs"]
    step = max(1, math.ceil(n_epochs / max(len(exact) - 1, 1)))
    log = log_spaced_epochs(n_epochs, len(exact))
    n = len(exact)
    while len(log) < len(exact) and n < 10 * len(exact):  # duplicates drop: ask for more points
        n += 1
        log = log_spaced_epochs(n_epochs, n)
    schedules = {
        f"delta-exact (delta {DELTA})": (exact, len(searches["delta-exact"].get("probed", exact))),
        f"delta-approx (delta {DELTA})": (
            searches["delta-approx"]["epochs"],
            len(searches["delta-approx"].get("probed", [])),
        ),
        f"simple skip: every {step} epochs": (every_nth_epoch(n_epochs, step).tolist(), None),
        "log-spaced, as many epochs": (log.tolist(), None),
        "all epochs (the full curve)": (epochs.tolist(), None),
    }
    rows = []
    for name, (measured, probed) in schedules.items():
        consecutive, worst = schedule_errors(epochs, values, entropies, measured)
        rows.append(
            {
                "result": "delta-skip vs simple skip",
                "what": name,
                "epochs measured": len(measured),
                "epochs probed": probed if probed is not None else "",
                "largest consecutive distance": consecutive,
                "worst gap to full curve": worst,
                "study": f"consecutive distance <= {DELTA} unless adjacent" if name.startswith("delta-exact") else "",
            }
        )
    figure, axes = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
    for axis, (label, measured) in zip(
        axes, [("delta-exact", exact), (f"every {step} epochs", schedules[f"simple skip: every {step} epochs"][0])]
    ):
        rows_measured = np.searchsorted(epochs, measured)
        for layer, name in enumerate(layers):
            (line,) = axis.plot(epochs, values[:, layer, 0], linewidth=0.8, label=name)
            axis.plot(
                epochs[rows_measured], values[rows_measured, layer, 0], "o", markersize=2.5, color=line.get_color()
            )
        axis.set_ylabel("I(X;T) [bits]")
        axis.set_title(f"full curve (lines) and the {len(measured)} epochs {label} measures (dots)", fontsize=9)
    axes[0].legend(fontsize=6, ncol=3)
    axes[1].set_xlabel("epoch")
    axes[1].set_xscale("symlog", linthresh=10)
    common.save_figure(figure, out, "delta_skip.png", study, publish)
    return rows


def one_epoch_rows(kde: Path, out: Path, publish: bool, study: str) -> list[dict]:
    """The information plane of the last epoch: one point per layer, per estimator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    with xr.open_dataset(kde / "reports" / "metrics.nc") as metrics:
        last = metrics.isel(epoch=-1, trial=0)
        epoch = int(last.epoch)
        figure, axis = plt.subplots(figsize=(5, 4))
        rows = []
        for estimator in metrics.estimator.values.tolist():
            cells = last.sel(estimator=estimator)
            axis.plot(cells.I_XT.values, cells.I_TY.values, "o-", label=estimator, markersize=4)
            for layer in metrics.layer.values.tolist():
                rows.append(
                    {
                        "result": f"one-epoch plane (epoch {epoch}, s^2 = {NOISE_VARIANCE} for kde)",
                        "what": f"{estimator} {layer}",
                        "I(X;T)": float(cells.I_XT.sel(layer=layer)),
                        "I(T;Y)": float(cells.I_TY.sel(layer=layer)),
                    }
                )
        for layer in metrics.layer.values.tolist():
            cell = last.sel(estimator="plugin", layer=layer)
            axis.annotate(layer, (float(cell.I_XT), float(cell.I_TY)), fontsize=6)
        axis.set_xlabel("I(X;T) [bits]")
        axis.set_ylabel("I(T;Y) [bits]")
        axis.set_title(f"the information plane of epoch {epoch} (one point per layer)", fontsize=9)
        axis.legend(fontsize=7)
        common.save_figure(figure, out, "one_epoch_plane.png", study, publish)
    return rows


def window_rows(folders: dict[str, Path], out: Path, publish: bool, study: str) -> list[dict]:
    """I(X;T) per layer over epochs, one epoch at a time (= H(T)) and pooled over windows of WINDOW epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import xarray as xr

    figure, axes = plt.subplots(1, len(folders), figsize=(10, 3.8), squeeze=False)
    rows = []
    for axis, (name, folder) in zip(axes[0], folders.items()):
        with (
            xr.open_dataset(folder / "reports" / "metrics.nc") as single,
            xr.open_dataset(folder / "reports" / f"metrics_window{WINDOW}.nc") as pooled,
        ):
            for layer in single.layer.values.tolist():
                one = single.I_XT.sel(layer=layer, estimator="plugin").isel(trial=0)
                many = pooled.I_XT.sel(layer=layer, estimator="plugin").isel(trial=0)
                (line,) = axis.plot(one.epoch, one, linewidth=0.6, alpha=0.5)
                axis.plot(many.epoch, many, linewidth=1.2, color=line.get_color(), label=layer)
                last_one, last_many = float(one.isel(epoch=-1)), float(many.dropna("epoch").isel(epoch=-1))
                rows.append(
                    {
                        "result": f"as if random, {name}, window {WINDOW} (last epoch)",
                        "what": layer,
                        "I(X;T), one epoch": last_one,
                        f"I(X;T), window {WINDOW}": last_many,
                        "H(T|X) from the window": float(
                            pooled.H_T.sel(layer=layer, estimator="plugin").isel(trial=0).dropna("epoch").isel(epoch=-1)
                        )
                        - last_many,
                    }
                )
        axis.set_xscale("symlog", linthresh=10)
        axis.set_title(f"{name}: I(X;T), one epoch (thin) and window {WINDOW} (thick)", fontsize=8)
        axis.set_xlabel("epoch")
        axis.set_ylabel("I(X;T) [bits]")
        axis.set_ylim(bottom=0, top=max(12.5, float(np.nanmax(single.I_XT.values)) + 0.5))
    axes[0][0].legend(fontsize=6, ncol=2)
    common.save_figure(figure, out, "as_if_random.png", study, publish)
    return rows


if __name__ == "__main__":
    main()
