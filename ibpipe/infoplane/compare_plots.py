"""Figures of a comparison (a Dataset with a ``run`` dim): planes side by side, I(X;T) overlaid across runs."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

matplotlib.use("Agg")


def trial_mean(values: xr.DataArray) -> xr.DataArray:
    return values.mean("trial") if "trial" in values.dims else values


def information_planes(compared: xr.Dataset, estimator: str, note: str = "") -> Figure:
    """One information plane per run with shared axes and one epoch colour scale (Saxe et al., ICLR 2018, Fig. 1).

    Each layer is a curve through its measured epochs, its points coloured by epoch; with trials the
    points are trial means.
    """
    selected = compared.sel(estimator=estimator)
    runs = selected.run.values.tolist()
    epochs = selected.epoch.values
    norm = Normalize(vmin=epochs.min(), vmax=max(epochs.max(), epochs.min() + 1))
    figure, axes = plt.subplots(
        1,
        len(runs),
        figsize=(4.2 * len(runs) + 1.2, 4.2),
        layout="constrained",
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    x_all = trial_mean(selected.I_XT).transpose("run", "epoch", "layer").values
    y_all = trial_mean(selected.I_TY).transpose("run", "epoch", "layer").values
    for axis, run, x, y in zip(axes[0], runs, x_all, y_all):
        for column, layer in enumerate(selected.layer.values.tolist()):
            measured = np.isfinite(x[:, column]) & np.isfinite(y[:, column])
            if not measured.any():
                continue
            axis.plot(x[measured, column], y[measured, column], "-", color="grey", alpha=0.35, linewidth=0.8)
            axis.scatter(
                x[measured, column],
                y[measured, column],
                c=epochs[measured],
                cmap="viridis",
                norm=norm,
                s=14,
                edgecolors="none",
                zorder=2,
            )
            last = np.flatnonzero(measured)[-1]
            axis.annotate(
                layer, (x[last, column], y[last, column]), textcoords="offset points", xytext=(3, 3), fontsize=7
            )
        axis.set_title(_run_label(compared, run), fontsize=9)
        axis.set_xlabel("I(X;T) [bits]")
        axis.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("I(T;Y) [bits]")
    figure.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0].tolist(), label="epoch")
    figure.suptitle(f"Information planes ({estimator}{', ' + note if note else ''})")
    return figure


def information_over_epochs(compared: xr.Dataset, estimator: str, quantity: str = "I_XT", note: str = "") -> Figure:
    """One panel per layer, one line per run: the trial mean, with a band of +-1 sd over trials if there are any."""
    selected = compared[quantity].sel(estimator=estimator)
    layers = selected.layer.values.tolist()
    columns = min(3, len(layers))
    rows = -(-len(layers) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.4 * columns, 3.2 * rows), layout="constrained", sharex=True, squeeze=False
    )
    for axis, layer in zip(axes.flat, layers):
        for run in selected.run.values.tolist():
            curve = selected.sel(layer=layer, run=run)
            mean = trial_mean(curve)
            measured = np.isfinite(mean.values)
            (line,) = axis.plot(
                curve.epoch.values[measured],
                mean.values[measured],
                marker=".",
                markersize=3,
                label=_run_label(compared, run),
            )
            if "trial" in curve.dims and curve.sizes["trial"] > 1:
                spread = curve.std("trial", ddof=1).values[measured]
                axis.fill_between(
                    curve.epoch.values[measured],
                    mean.values[measured] - spread,
                    mean.values[measured] + spread,
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xlim(left=0)
        axis.set_title(layer, fontsize=9)
        axis.grid(True, alpha=0.3)
    for axis in axes.flat[len(layers) :]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("epoch")
    label = {"I_XT": "I(X;T) [bits]", "I_TY": "I(T;Y) [bits]"}[quantity]
    for axis in axes[:, 0]:
        axis.set_ylabel(label)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", fontsize=8, ncols=min(3, len(labels)))
    bands = " (mean +- sd over trials)" if "trial" in selected.dims else ""
    figure.suptitle(
        f"{label.split(' ')[0]} per layer over epochs, runs overlaid ({estimator}{bands}{', ' + note if note else ''})"
    )
    return figure


def _run_label(compared: xr.Dataset, run: str) -> str:
    """The run's name and, on a second line, its differing params (at most three)."""
    keys = [key for key in compared.coords if compared[key].dims == ("run",) and "." in key]
    values = ", ".join(f"{key}={compared[key].sel(run=run).item()}" for key in keys[:3])
    return f"{run}\n{values}" if values else str(run)
