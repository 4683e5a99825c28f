"""Figures of the t-SNE sequences and of the layer probes, each drawn from its Dataset alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ibpipe.infoplane.layer_probes import earliest_layer_reaching_output

matplotlib.use("Agg")


def _class_colours(labels: np.ndarray) -> np.ndarray:
    return plt.get_cmap("tab10")(np.asarray(labels) % 10)


def _draw_map(axis, points: np.ndarray, labels: np.ndarray) -> None:
    coordinates = [points[:, column] for column in range(points.shape[1])]
    axis.scatter(*coordinates, c=_class_colours(labels), s=3, edgecolors="none")
    axis.set_xticks([])
    axis.set_yticks([])
    if points.shape[1] == 3:
        axis.set_zticks([])


def tsne_grid(embeddings: xr.Dataset) -> Figure:
    """Layers (rows) x sequence steps (columns) of t-SNE maps coloured by class, the epoch over each map."""
    layers, steps = embeddings.layer.values.tolist(), embeddings.sizes["step"]
    three_d = embeddings.sizes["component"] == 3
    figure = plt.figure(figsize=(2.4 * steps + 0.6, 2.3 * len(layers)), layout="constrained")
    labels = embeddings["label"].values
    for row, layer in enumerate(layers):
        for step in range(steps):
            axis = figure.add_subplot(len(layers), steps, row * steps + step + 1, projection="3d" if three_d else None)
            _draw_map(axis, embeddings["embedding"].sel(layer=layer).isel(step=step).values, labels)
            epoch = int(embeddings["epoch"].sel(layer=layer).isel(step=step))
            name = str(embeddings["step_name"].sel(layer=layer).values[step])
            axis.set_title(f"{name}: epoch {epoch}" if name.startswith(("first", "peak", "last")) else name, fontsize=8)
            if step == 0:
                axis.set_ylabel(layer) if not three_d else axis.text2D(-0.1, 0.5, layer, transform=axis.transAxes)
    figure.suptitle(f"t-SNE of each layer over training ({embeddings.sizes['row']} rows, colour = class)")
    return figure


def write_tsne_gif(embeddings: xr.Dataset, path: str | Path, dpi: int) -> bool:
    """One frame per sequence step, all layers side by side; False (nothing written) without pillow."""
    try:
        import PIL  # noqa: F401  (PillowWriter needs it)
    except ImportError:
        return False
    from matplotlib.animation import FuncAnimation, PillowWriter

    layers = embeddings.layer.values.tolist()
    three_d = embeddings.sizes["component"] == 3
    figure = plt.figure(figsize=(2.4 * len(layers), 2.6))
    axes = [
        figure.add_subplot(1, len(layers), column + 1, projection="3d" if three_d else None)
        for column in range(len(layers))
    ]
    labels = embeddings["label"].values

    def draw(step: int):
        for axis, layer in zip(axes, layers):
            axis.clear()
            _draw_map(axis, embeddings["embedding"].sel(layer=layer).isel(step=step).values, labels)
            epoch = int(embeddings["epoch"].sel(layer=layer).isel(step=step))
            axis.set_title(f"{layer}\nepoch {epoch}", fontsize=8)
        figure.suptitle(f"map {step + 1} of {embeddings.sizes['step']}", fontsize=9)
        return axes

    animation = FuncAnimation(figure, draw, frames=embeddings.sizes["step"])
    animation.save(str(path), writer=PillowWriter(fps=1), dpi=dpi)
    plt.close(figure)
    return True


def probe_accuracy_figure(probes: xr.Dataset, output_layer: str = "output") -> Figure:
    """Probe accuracy and usable information per layer over epochs; the earliest layer that matches the output."""
    figure, axes = plt.subplots(2, 1, figsize=(7, 7), sharex=True, layout="constrained")
    earliest = (
        earliest_layer_reaching_output(probes["probe_accuracy"], output_layer)
        if output_layer in probes.layer.values
        else None
    )
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, probes.sizes["layer"]))
    for colour, layer in zip(colours, probes.layer.values.tolist()):
        style = {"color": colour, "linewidth": 2.6 if layer == earliest else 1.2}
        label = f"{layer} (earliest to reach the output)" if layer == earliest else layer
        axes[0].plot(probes.epoch, probes["probe_accuracy"].sel(layer=layer), label=label, **style)
        axes[1].plot(probes.epoch, probes["usable_information"].sel(layer=layer), **style)
    axes[0].set_ylabel("held-out probe accuracy")
    axes[0].legend(fontsize=8)
    axes[1].set_ylabel("usable information [bits]")
    if "H_Y_prior" in probes.attrs:
        axes[1].axhline(probes.attrs["H_Y_prior"], color="grey", linestyle=":", linewidth=1, label="H(Y)")
        axes[1].legend(fontsize=8)
    for axis in axes:
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xlim(left=0)
        axis.grid(True, alpha=0.3)
    axes[1].set_xlabel("epoch")
    axes[0].set_title("Linear probes per layer (usable information: Xu et al., ICLR 2020)", fontsize=10)
    return figure


def separation_under_information(metrics: xr.Dataset, probes: xr.Dataset, estimator: str) -> Figure:
    """I(X;T) over epochs per layer, and beneath it the class separation (silhouette) of the same layers."""
    figure, axes = plt.subplots(2, 1, figsize=(7, 7), sharex=True, layout="constrained")
    layers = probes.layer.values.tolist()
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(layers)))
    information = metrics["I_XT"].sel(estimator=estimator)
    for colour, layer in zip(colours, layers):
        axes[0].plot(metrics.epoch, information.sel(layer=layer), color=colour, label=layer)
        axes[1].plot(probes.epoch, probes["class_separation"].sel(layer=layer), color=colour)
    axes[0].set_ylabel(f"I(X;T) [bits] ({estimator})")
    axes[0].legend(fontsize=8)
    axes[1].set_ylabel("class separation (silhouette)")
    for axis in axes:
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xlim(left=0)
        axis.grid(True, alpha=0.3)
    axes[1].set_xlabel("epoch")
    axes[0].set_title("Compression beside clustering (Goldfeld et al. 2019)")
    return figure
