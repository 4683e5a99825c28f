"""Figures of the neuron-space experiment: neuron ellipses, accuracy against parameters, alignment quality."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def neuron_ellipses(gaussians: xr.Dataset, n_neurons: int = 8) -> Figure:
    """Two-sigma ellipses of the first neurons' Gaussians, projected on the first two principal axes of the means."""
    from matplotlib.patches import Ellipse

    means, covs = gaussians["mean"].values, gaussians.covariance.values
    centred = means - means.mean(axis=0)
    axes_2d = np.linalg.svd(centred, full_matrices=False)[2][:2]
    projected, projected_covs = centred @ axes_2d.T, axes_2d @ covs @ axes_2d.T
    figure, axis = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    axis.scatter(projected[:, 0], projected[:, 1], s=8, color="grey", label="all neurons (means)")
    colours = plt.get_cmap("tab10")
    for neuron in range(min(n_neurons, len(means))):
        values, vectors = np.linalg.eigh(projected_covs[neuron])
        angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
        width, height = 4 * np.sqrt(np.maximum(values[::-1], 0))
        axis.add_patch(
            Ellipse(
                projected[neuron], width, height, angle=angle, fill=False, color=colours(neuron % 10), linewidth=1.5
            )
        )
        axis.annotate(str(neuron), projected[neuron], fontsize=8, xytext=(3, 3), textcoords="offset points")
    axis.set_xlabel("principal axis 1 of the neuron means")
    axis.set_ylabel("principal axis 2")
    axis.set_title(f"Neuron Gaussians, 2-sigma ellipses ({gaussians.attrs.get('covariance_source', '')})")
    axis.autoscale_view()
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def accuracy_against_parameters(curves: xr.Dataset) -> Figure:
    """Test accuracy of the merged net against its parameters, mean over restarts with a min-max band per metric."""
    figure, axis = plt.subplots(figsize=(7.5, 5), layout="constrained")
    params = curves.params.values
    for metric in curves.metric.values.tolist():
        accuracy = curves.accuracy.sel(metric=metric)
        line = axis.plot(
            params,
            accuracy.mean("restart").values,
            marker=".",
            label=f"{metric} (mean of {curves.sizes['restart']} runs)",
        )[0]
        axis.fill_between(
            params, accuracy.min("restart").values, accuracy.max("restart").values, color=line.get_color(), alpha=0.2
        )
    axis.axhline(
        curves.attrs["accuracy_full"],
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"uncompressed ({int(curves.attrs['params_full'])} parameters)",
    )
    axis.axhline(0.9, color="grey", linestyle=":", linewidth=1, label="0.90")
    title = f"Compression of the hidden layer ({curves.attrs.get('dataset', '')})"
    if "p_value_overall" in curves.attrs:
        title += (
            f"; W2 - Euclidean {curves.attrs['mean_difference_overall']:+.3f}, "
            f"sign test p = {curves.attrs['p_value_overall']:.2f}"
        )
    axis.set_title(title, fontsize=10)
    axis.set_xlabel("parameters of the merged network")
    axis.set_ylabel("test accuracy")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def alignment_quality(layers: xr.Dataset) -> Figure:
    """Matched correlation of every replica neuron with its reference neuron: what the bootstrap
    covariance is made of."""
    quality = layers.alignment_quality.transpose("replica", "neuron").values
    figure, axis = plt.subplots(figsize=(8, 4.2), layout="constrained")
    axis.boxplot(quality, positions=range(quality.shape[1]), widths=0.6, showfliers=True)
    axis.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("reference neuron")
    axis.set_ylabel("matched correlation over replicas")
    axis.set_title(
        f"Alignment of {quality.shape[0]} bootstrap replicas (median {float(np.median(quality)):.2f}, "
        f"{float((quality < 0.9).mean()):.0%} below 0.9)"
    )
    axis.grid(True, alpha=0.3)
    return figure
