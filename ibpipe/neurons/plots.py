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
    """The primary test score (accuracy, or forecast MSE) of the merged net against its parameters,
    mean over restarts with a min-max band per metric; a series task adds the one-step MSE dashed."""
    score = curves.attrs.get("primary_score", "accuracy")
    figure, axis = plt.subplots(figsize=(7.5, 5), layout="constrained")
    params = curves.params.values
    for metric in curves.metric.values.tolist():
        values = curves[score].sel(metric=metric)
        line = axis.plot(
            params,
            values.mean("restart").values,
            marker=".",
            label=f"{metric} (mean of {curves.sizes['restart']} runs)",
        )[0]
        axis.fill_between(
            params, values.min("restart").values, values.max("restart").values, color=line.get_color(), alpha=0.2
        )
        if "one_step_mse" in curves and curves.sizes.get("k", 0) and score != "one_step_mse":
            one_step = curves.one_step_mse.sel(metric=metric).mean("restart").values
            if not np.allclose(one_step, values.mean("restart").values):
                axis.plot(params, one_step, linestyle="--", color=line.get_color(), label=f"{metric}, one-step MSE")
    axis.axhline(
        curves.attrs[f"{score}_full"],
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"uncompressed ({int(curves.attrs['params_full'])} parameters)",
    )
    if score == "accuracy":
        axis.axhline(0.9, color="grey", linestyle=":", linewidth=1, label="0.90")
    else:
        axis.set_yscale("log")
    title = f"Compression of the hidden layer ({curves.attrs.get('dataset', '')})"
    if "auc_p_value" in curves.attrs:
        title += (
            f"\nper-restart mean {score} W2 - Euclidean {curves.attrs['auc_mean_difference']:+.4f} "
            f"[{curves.attrs['auc_ci95_low']:+.4f}, {curves.attrs['auc_ci95_high']:+.4f}], "
            f"permutation p = {curves.attrs['auc_p_value']:.2g}"
        )
    axis.set_title(title, fontsize=10)
    axis.set_xlabel("parameters of the merged network")
    axis.set_ylabel("test accuracy" if score == "accuracy" else "test MSE (signal variance units)")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    return figure


def neuron_circle(curves: xr.Dataset) -> Figure:
    """A series net's neurons in the plane of the input's first two principal axes: replicas
    (small, coloured by their reference neuron) and the reference (large), with the mean radius."""
    reference, replicas = curves.circle_reference.values, curves.circle_replicas.values
    figure, axis = plt.subplots(figsize=(6, 6), layout="constrained")
    colours = plt.get_cmap("tab10")
    for neuron in range(len(reference)):
        axis.scatter(replicas[:, neuron, 0], replicas[:, neuron, 1], s=10, alpha=0.5, color=colours(neuron % 10))
        axis.scatter(*reference[neuron], s=80, color=colours(neuron % 10), edgecolor="black", zorder=3)
    radius = np.linalg.norm(reference, axis=1).mean()
    angles = np.linspace(0, 2 * np.pi, 200)
    axis.plot(radius * np.cos(angles), radius * np.sin(angles), color="grey", linestyle=":", linewidth=1)
    axis.set_aspect("equal")
    axis.set_xlabel("w . e1 (input principal axis 1)")
    axis.set_ylabel("w . e2 (input principal axis 2)")
    axis.set_title(
        f"Neurons in the plane of the fundamental: radius CV {curves.attrs['circle_radius_cv_reference']:.2f} "
        f"(reference), {curves.attrs['circle_radius_cv_replicas']:.2f} (replicas)",
        fontsize=9,
    )
    axis.grid(True, alpha=0.3)
    return figure


def covariance_sources_ellipses(means: np.ndarray, covariances: dict[str, np.ndarray], n_neurons: int = 6) -> Figure:
    """Two-sigma ellipses of the same neurons under each covariance source, one panel per neuron,
    projected on the first two principal axes of the means (the view of ``neuron_ellipses``)."""
    from matplotlib.patches import Ellipse

    centred = means - means.mean(axis=0)
    axes_2d = np.linalg.svd(centred, full_matrices=False)[2][:2]
    shown = min(n_neurons, len(means))
    figure, panels = plt.subplots(1, shown, figsize=(3.2 * shown, 3.4), layout="constrained", squeeze=False)
    colours = plt.get_cmap("tab10")
    for neuron, axis in enumerate(panels[0]):
        centre = centred[neuron] @ axes_2d.T
        for position, (source, covs) in enumerate(covariances.items()):
            values, vectors = np.linalg.eigh(axes_2d @ covs[neuron] @ axes_2d.T)
            angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
            width, height = 4 * np.sqrt(np.maximum(values[::-1], 0))
            axis.add_patch(
                Ellipse(
                    centre, width, height, angle=angle, fill=False, color=colours(position), linewidth=1.5, label=source
                )
            )
        axis.scatter(*centre, s=10, color="black")
        axis.set_title(f"neuron {neuron}", fontsize=9)
        axis.autoscale_view()
        axis.set_aspect("equal", adjustable="datalim")
        axis.grid(True, alpha=0.3)
    panels[0][0].legend(fontsize=7)
    figure.suptitle("2-sigma ellipses of the same neurons by covariance source (principal axes 1-2 of the means)")
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
