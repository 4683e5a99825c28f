"""Figures of the information-plane experiment, each drawn from the metrics Dataset (or the selection,
the training history) alone."""

from __future__ import annotations

from itertools import pairwise

import matplotlib
import matplotlib.pyplot as plt
import xarray as xr
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ibpipe.infoplane.plot_data import PANEL_LABELS, ceiling_data, label_entropy, panel_quantities

matplotlib.use("Agg")


def _epoch_axis(axis) -> None:
    # symlog keeps epoch 0 (the initial weights) on a logarithmic time axis.
    axis.set_xscale("symlog", linthresh=1)
    axis.set_xlim(left=0)
    axis.set_xlabel("epoch")
    axis.grid(True, alpha=0.3)


def _rug(axis, epochs) -> None:
    """Measured epochs as ticks along the bottom of the time axis."""
    axis.plot(
        epochs,
        [0.0] * len(epochs),
        "|",
        color="black",
        alpha=0.4,
        markersize=6,
        transform=axis.get_xaxis_transform(),
        label="_measured epochs",
    )


def _trial_mean(data):
    """The mean over the ``trial`` dim when there is one (the information plane shows trial means)."""
    return data.mean("trial", keep_attrs=True) if "trial" in data.dims else data


def _curve(axis, epochs, values: xr.DataArray, **style):
    """One curve over epochs: with a ``trial`` dim, the trial mean and a band of +- one sd over trials
    (sd with n - 1 degrees of freedom; no band for a single trial). Returns the line."""
    (line,) = axis.plot(epochs, _trial_mean(values), **style)
    if "trial" in values.dims and values.sizes["trial"] > 1:
        mean, spread = values.mean("trial"), values.std("trial", ddof=1)
        axis.fill_between(epochs, mean - spread, mean + spread, color=line.get_color(), alpha=0.2, linewidth=0)
    return line


def _trials_note(data) -> str:
    n_trials = data.sizes.get("trial", 1)
    return f", mean +- sd of {n_trials} trials" if n_trials > 1 else ""


def _window_note(metrics: xr.Dataset) -> str:
    window = int(metrics.attrs.get("window", 1))
    return f", {window}-epoch windows" if window > 1 else ""


def information_plane(metrics: xr.Dataset, estimator: str) -> Figure:
    """I(X;T) against I(T;Y): a line through the layers per epoch, points coloured by epoch (trial means)."""
    selected = _trial_mean(metrics.sel(estimator=estimator)[["I_XT", "I_TY"]])
    epochs = selected.epoch.values
    norm = Normalize(vmin=epochs.min(), vmax=max(epochs.max(), epochs.min() + 1))
    colours = plt.get_cmap("viridis")(norm(epochs))
    figure, axis = plt.subplots(figsize=(7, 5.5), layout="constrained")
    x = selected.I_XT.transpose("epoch", "layer").values
    y = selected.I_TY.transpose("epoch", "layer").values
    for row, colour in enumerate(colours):
        axis.plot(x[row], y[row], "-", color=colour, alpha=0.15, linewidth=0.8)
    for column in range(x.shape[1]):
        axis.scatter(x[:, column], y[:, column], c=epochs, cmap="viridis", norm=norm, s=12, edgecolors="none", zorder=2)
    for column, layer in enumerate(selected.layer.values.tolist()):
        axis.annotate(layer, (x[-1, column], y[-1, column]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    figure.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axis, label="epoch")
    axis.set_xlabel("I(X;T) [bits]")
    axis.set_ylabel("I(T;Y) [bits]")
    axis.set_title(f"Information plane ({estimator}{_window_note(metrics)}{_trials_note(metrics)})")
    axis.grid(True, alpha=0.3)
    return figure


def _information_panels(metrics: xr.Dataset, title: str, draw) -> Figure:
    """H(T), I(X;T) and I(T;Y) side by side against epoch; ``draw(axis, quantity)`` adds the lines.

    Every line carries its layer or estimator as label and plots the trial mean of the metrics, so the
    figure's data read back from ``figure.axes[k].get_lines()`` are the metrics themselves.
    """
    quantities = panel_quantities(metrics)
    figure, axes = plt.subplots(
        1, len(quantities), figsize=(5.5 * len(quantities), 4.2), layout="constrained", sharex=True, squeeze=False
    )
    for axis, quantity in zip(axes[0], quantities):
        draw(axis, quantity)
        _rug(axis, metrics.epoch.values)
        _epoch_axis(axis)
        axis.set_ylabel(PANEL_LABELS[quantity])
    h_y = float(label_entropy(metrics))  # the first split's, when measured per split
    axes[0][-1].axhline(h_y, color="grey", linestyle=":", linewidth=1, label="H(Y)")
    axes[0][-1].legend(fontsize=8)
    figure.suptitle(title + _window_note(metrics) + _trials_note(metrics))
    return figure


def information_over_epochs(metrics: xr.Dataset, estimator: str) -> Figure:
    """H(T), I(X;T) and I(T;Y) of every layer against epoch."""
    selected = metrics.sel(estimator=estimator)

    def draw(axis, quantity):
        for layer in selected.layer.values.tolist():
            _curve(axis, selected.epoch, selected[quantity].sel(layer=layer), label=layer, linewidth=1.2)

    return _information_panels(metrics, f"Information per layer over training ({estimator})", draw)


def estimator_comparison(metrics: xr.Dataset, layer: str) -> Figure:
    """H(T), I(X;T) and I(T;Y) of one layer against epoch, one line per estimator, bootstrap bands if stored."""
    selected = metrics.sel(layer=layer)

    def draw(axis, quantity):
        for estimator in selected.estimator.values.tolist():
            line = _curve(axis, selected.epoch, selected[quantity].sel(estimator=estimator), label=estimator)
            if f"{quantity}_ci" in selected:
                band = _trial_mean(selected[f"{quantity}_ci"].sel(estimator=estimator))
                axis.fill_between(
                    selected.epoch,
                    band.sel(bound="lower"),
                    band.sel(bound="upper"),
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )

    noise = metrics.attrs.get("noise_variance", "n/a")
    return _information_panels(
        metrics, f"Estimators compared on layer {layer} (noise variance {noise} for kde/knn)", draw
    )


def information_ceiling(metrics: xr.Dataset, estimator: str) -> Figure:
    """I(T;Y) of every layer against its ceiling H(Y): the share I(T;Y) / H(Y) over epochs, and each layer's
    I(T;Y) at the last measured epoch beside H(Y). The drawn numbers are ``ceiling_data`` (``figure.plot_data``)."""
    data = ceiling_data(metrics, estimator)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", width_ratios=(3, 2))
    for layer in data.layer.values.tolist():
        axes[0].plot(data.epoch.values, data.share.sel(layer=layer).values, label=layer, linewidth=1.2)
    axes[0].axhline(1.0, color="grey", linestyle=":", linewidth=1, label="H(Y)")
    _rug(axes[0], data.epoch.values)
    _epoch_axis(axes[0])
    axes[0].set_ylim(bottom=0)
    axes[0].set_ylabel("I(T;Y) / H(Y)")
    axes[0].legend(fontsize=8)
    layers = data.layer.values.tolist()
    bars = axes[1].bar(layers, data.final_I_TY.values, color="tab:blue", label="I(T;Y)")
    for bar, share in zip(bars, data.final_share.values):
        axes[1].annotate(f"{share:.0%}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", fontsize=8)
    axes[1].axhline(
        data.attrs["H_Y"], color="grey", linestyle=":", linewidth=1, label=f"H(Y) = {data.attrs['H_Y']:.3f}"
    )
    axes[1].set_ylabel("I(T;Y) [bits]")
    axes[1].set_title(f"epoch {data.attrs['final_epoch']}", fontsize=9)
    axes[1].tick_params(axis="x", labelrotation=45, labelsize=8)
    axes[1].legend(fontsize=8)
    figure.suptitle(f"I(T;Y) against its ceiling H(Y) ({estimator}{_window_note(metrics)}{_trials_note(metrics)})")
    figure.plot_data = data
    return figure


def selection_overview(selection: dict) -> Figure:
    """The measured epochs on the time axis and, for delta-skip, the distance of every gap."""
    epochs = selection["epochs"]
    figure, axis = plt.subplots(figsize=(11, 3.2), layout="constrained")
    _rug(axis, epochs)
    if "distances" in selection:
        gaps = [(a + b) / 2 for a, b in pairwise(epochs)]
        axis.plot(gaps, selection["distances"], ".", markersize=3, label="distance of each gap")
        axis.axhline(selection["delta"], color="red", linestyle=":", linewidth=1, label=f"delta = {selection['delta']}")
        axis.set_ylabel("max |change of I(.;T)| / H(.)")
        axis.legend(fontsize=8)
    else:
        axis.set_yticks([])
    _epoch_axis(axis)
    probed = len(selection.get("probed", epochs))
    axis.set_title(f"Selection '{selection['method']}': {len(epochs)} epochs measured, {probed} probed")
    return figure


def default_comparison_layer(metrics: xr.Dataset) -> str:
    """The last hidden layer: the one whose compression the studies argue about."""
    layers = metrics.layer.values.tolist()
    return layers[-2] if len(layers) > 1 else layers[-1]


def training_curves(history: xr.Dataset) -> Figure:
    """Train and test loss and accuracy against epoch."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained", sharex=True)
    for split in ("train", "test"):
        _curve(axes[0], history.epoch, history[f"{split}_loss"], label=split)
        _curve(axes[1], history.epoch, history[f"{split}_accuracy"], label=split)
    axes[0].set_ylabel("cross-entropy [nats]")
    axes[1].set_ylabel("accuracy")
    for axis in axes:
        _epoch_axis(axis)
        axis.legend()
    figure.suptitle("Training curves" + _trials_note(history))
    return figure


def state_saturation(metrics: xr.Dataset) -> Figure:
    """Distinct code states / rows per layer over epochs: at 1 every sample is its own state and I(X;T) = H(X)."""
    figure, axis = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for layer in metrics.layer.values.tolist():
        _curve(axis, metrics.epoch.values, metrics.state_ratio.sel(layer=layer), marker=".", label=layer)
    _epoch_axis(axis)
    _rug(axis, metrics.epoch.values)
    axis.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("distinct states / N")
    axis.set_title(f"Saturation of the codes{_window_note(metrics)}")
    axis.legend(fontsize=8)
    return figure


def dimension_over_epochs(metrics: xr.Dataset) -> Figure:
    """Intrinsic dimension of each layer's raw activations over training, one panel per estimator."""
    names = [name for name in ("corrdim", "nn_dim") if name in metrics]
    titles = {"corrdim": "correlation dimension", "nn_dim": "TwoNN dimension"}
    figure, axes = plt.subplots(
        1, len(names), figsize=(5.5 * len(names), 4.2), layout="constrained", sharex=True, squeeze=False
    )
    for axis, name in zip(axes[0], names):
        for layer in metrics.layer.values.tolist():
            _curve(axis, metrics.epoch.values, metrics[name].sel(layer=layer), marker=".", markersize=3, label=layer)
        _epoch_axis(axis)
        _rug(axis, metrics.epoch.values)
        axis.set_ylabel(titles[name])
    axes[0][0].legend(fontsize=8)
    figure.suptitle("Intrinsic dimension of the activations")
    return figure


def lagrangian_over_epochs(lagrangian: xr.DataArray, estimator: str) -> Figure:
    """The IB Lagrangian I(X;T) - beta I(T;Y) of every layer against epoch, one panel per beta (trial means)."""
    if "trial" in lagrangian.dims:
        lagrangian = lagrangian.mean("trial")
    betas = lagrangian.beta.values.tolist()
    figure, axes = plt.subplots(
        1, len(betas), figsize=(4.4 * len(betas), 4.0), layout="constrained", sharex=True, squeeze=False
    )
    for axis, beta in zip(axes[0], betas):
        panel = lagrangian.sel(beta=beta)
        panel = panel.isel({dim: 0 for dim in panel.dims if dim not in ("epoch", "layer")})
        for layer in panel.layer.values.tolist():
            axis.plot(panel.epoch.values, panel.sel(layer=layer).values, label=layer, linewidth=1.2)
        _epoch_axis(axis)
        axis.set_title(f"beta = {beta:g}")
    axes[0][0].set_ylabel("I(X;T) - beta I(T;Y) [bits]")
    axes[0][0].legend(fontsize=8)
    figure.suptitle(f"IB Lagrangian per layer over training ({estimator})")
    return figure
