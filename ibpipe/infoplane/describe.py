"""The exploratory figures of a run: its data set and one layer, as the bachelor thesis on MNIST draws them.

- the label histogram;
- the inputs: value histograms of two pixels (the thesis's (14, 14) and (7, 7) on 28x28 images), or for
  flat inputs such as the 12-bit data the share of ones of every bit; and the 2x2 independence test of the
  two pixels binarised at the middle of the input range (Pearson's chi-squared, 1 degree of freedom);
- one layer at one measured epoch: a histogram per feature (a unit, or a channel of an image layer),
  the mean and standard-deviation maps, the per-unit borders of its coding drawn as images, and
  examples of its pooled images when the reduce settings pool it.

``describe_run`` reads the activations store (inputs, labels, the layer) and the codes store's
description of each layer's reduction, and returns the figures and a JSON-ready summary of the numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ibpipe.errors import InputError

matplotlib.use("Agg")

# Layer figures read at most this many samples (evenly spaced): seconds on MNIST, every sample of small data.
MAX_SAMPLES = 5000
# Pooled-image examples drawn side by side with the images they pool.
N_POOL_EXAMPLES = 4


# ---------------------------------------------------------------- statistics


def middle_of_range(values: np.ndarray) -> float:
    """(min + max) / 2 of the finite values: 0.5 for 0/1 bits and for MNIST scaled to [0, 1]."""
    values = np.asarray(values)
    return float((np.float64(np.nanmin(values)) + np.float64(np.nanmax(values))) / 2)


def binarise(values: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray, float]:
    """``values > threshold``, the threshold at the middle of their range unless given; (booleans, threshold)."""
    threshold = middle_of_range(values) if threshold is None else float(threshold)
    return np.asarray(values) > threshold, threshold


def contingency_table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Counts (2, 2): row i, column j counts the samples with a == i and b == j."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    return np.array([[np.sum(~a & ~b), np.sum(~a & b)], [np.sum(a & ~b), np.sum(a & b)]], dtype=np.int64)


def independence_test(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Pearson's chi-squared test that two binary variables are independent, on their 2x2 table.

    No continuity correction: the statistic is N (n00 n11 - n01 n10)^2 over the product of the four
    margins, with 1 degree of freedom; ``phi``, the effect size, is the two variables' correlation
    (phi^2 N = statistic). A variable that is constant (an empty row or column: MNIST's corner pixels
    are always 0) admits no test: statistic, p-value and phi are NaN.
    """
    from scipy.stats import chi2_contingency

    table = contingency_table(a, b)
    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        nan = float("nan")
        return {"table": table.tolist(), "statistic": nan, "p_value": nan, "dof": 1, "phi": nan}
    result = chi2_contingency(table, correction=False)
    (n00, n01), (n10, n11) = table.astype(np.float64)
    margins = table.sum(axis=0).astype(np.float64).prod() * table.sum(axis=1).astype(np.float64).prod()
    return {
        "table": table.tolist(),
        "statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "dof": int(result.dof),
        # the effect size: the correlation of the two binary variables, phi^2 = statistic / N
        "phi": float((n00 * n11 - n01 * n10) / np.sqrt(margins)),
    }


def default_positions(shape: Sequence[int]) -> list[tuple[int, ...]]:
    """The centre and the quarter point of an image ((14, 14) and (7, 7) on 28x28), units 0 and 1 of flat inputs."""
    if len(shape) >= 2:
        height, width = shape[-2:]
        return [(height // 2, width // 2), (height // 4, width // 4)]
    return [(0,), (min(1, shape[0] - 1),)]


def input_column(shape: Sequence[int], position: Sequence[int]) -> int:
    """The column of the flat input rows holding ``position`` (row, column) of an image's first channel, or the
    unit of flat inputs; a position outside the inputs is an ``InputError`` naming describe.pixels."""
    shape, position = tuple(int(size) for size in shape), tuple(int(index) for index in position)
    image = len(shape) >= 2
    if len(position) != (2 if image else 1) or any(
        index >= size for index, size in zip(position, shape[-2:] if image else shape)
    ):
        allowed = f"[row, column] within {shape[-2]}x{shape[-1]}" if image else f"[unit] below {shape[0]}"
        raise InputError(f"describe.pixels holds {list(position)}: the inputs have shape {shape}, so give {allowed}")
    return int(np.ravel_multi_index((0,) * (len(shape) - 2) + position, shape)) if image else position[0]


def feature_values(values: np.ndarray, shape: Sequence[int], max_features: int) -> list[np.ndarray]:
    """Each feature's values over the samples: a unit of a flat layer, a channel (all its positions) of an
    image layer (channel, h, w); the first ``max_features``."""
    values = np.asarray(values).reshape(len(values), -1)
    if len(shape) == 3:
        channels = values.reshape(len(values), shape[0], -1)
        return [channels[:, channel].ravel() for channel in range(min(shape[0], max_features))]
    return [values[:, unit] for unit in range(min(values.shape[1], max_features))]


def as_images(vector: np.ndarray, shape: Sequence[int], max_features: int) -> list[np.ndarray]:
    """One value per unit laid out as images: a (h, w) image per channel of (channel, h, w) (the first
    ``max_features``), the image of (h, w), or one row (1, n) of a flat layer."""
    vector = np.asarray(vector, dtype=np.float64).ravel()
    if len(shape) == 3:
        return list(vector.reshape(shape)[:max_features])
    if len(shape) == 2:
        return [vector.reshape(shape)]
    return [vector.reshape(1, -1)]


def reducer_of(description: dict[str, Any] | None, shape: Sequence[int]):
    """The layer's ``LayerReducer`` rebuilt from the codes store's description of its reduction (None if the
    layer was not coded)."""
    from ibpipe.infoplane.reduce import LayerReducer, LayerReduction

    if description is None:
        return None
    fields = {name: description[name] for name in LayerReduction.model_fields if name in description}
    return LayerReducer(LayerReduction(**fields), shape)


def layer_borders(pooled: np.ndarray, description: dict[str, Any] | None) -> tuple[np.ndarray, str]:
    """Per-unit (low, high) borders (2, n_pooled_units) of the layer's coding and what they are.

    ``quantile-pooled``: the borders reduce learnt over all epochs (stored in the codes store); ``quantile``
    (the thesis coding): this epoch's q_low and q_high quantiles, as reduce rebuilds them each epoch; any
    other coding: this epoch's per-unit minimum and maximum.
    """
    from ibpipe.estimators.binning import quantile_edges

    method = None if description is None else description.get("method")
    if method == "quantile-pooled" and description.get("unit_ranges") is not None:
        low_q, high_q = description["q_low"], description["q_high"]
        return np.asarray(description["unit_ranges"], dtype=np.float64), f"{low_q}/{high_q} quantiles, all epochs"
    if method == "quantile":
        low_q, high_q = description["q_low"], description["q_high"]
        return quantile_edges(pooled, low_q, high_q), f"{low_q}/{high_q} quantiles of this epoch"
    return quantile_edges(pooled, 0.0, 1.0), "min/max of this epoch"


# ---------------------------------------------------------------- figures


def label_figure(labels: np.ndarray) -> Figure:
    classes, counts = np.unique(np.asarray(labels), return_counts=True)
    figure, axis = plt.subplots(figsize=(6, 3.5), layout="constrained")
    axis.bar([str(label) for label in classes], counts, color="tab:blue")
    axis.set(xlabel="label", ylabel="samples", title=f"labels ({int(counts.sum())} samples)")
    return figure


def _test_text(test: dict[str, Any]) -> str:
    (n00, n01), (n10, n11) = test["table"]
    return (
        f"2x2 table [[{n00}, {n01}], [{n10}, {n11}]]: chi2 = {test['statistic']:.4g}, "
        f"p = {test['p_value']:.3g} (1 dof), phi = {test['phi']:.3g}"
    )


def input_figure(
    inputs: np.ndarray,
    shape: Sequence[int],
    columns: Sequence[int],
    positions: Sequence[Sequence[int]],
    test: dict[str, Any],
    bins: int,
) -> Figure:
    """Value histograms of the two tested pixels of images, or every bit's share of ones of flat inputs."""
    inputs = np.asarray(inputs).reshape(len(inputs), -1)
    if len(shape) >= 2:
        figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
        for axis, column, position in zip(axes, columns, positions):
            axis.hist(inputs[:, column], bins=bins, color="tab:blue")
            axis.set(xlabel="input value", ylabel="samples", title=f"pixel {tuple(position)}")
    else:
        figure, axis = plt.subplots(figsize=(7, 3.5), layout="constrained")
        ones, _ = binarise(inputs)
        colours = ["tab:orange" if unit in columns else "tab:blue" for unit in range(inputs.shape[1])]
        axis.bar(np.arange(inputs.shape[1]), ones.mean(axis=0), color=colours)
        axis.set(xlabel="input unit (tested units in orange)", ylabel="share of ones", ylim=(0, 1))
    figure.suptitle(_test_text(test), fontsize=9)
    return figure


def histogram_figure(features: list[np.ndarray], bins: int, title: str, feature_name: str) -> Figure:
    n_columns = min(4, len(features))
    n_rows = -(-len(features) // n_columns)
    figure, axes = plt.subplots(
        n_rows, n_columns, figsize=(2.6 * n_columns, 2.0 * n_rows), layout="constrained", squeeze=False
    )
    for index, axis in enumerate(axes.ravel()):
        if index >= len(features):
            axis.set_visible(False)
            continue
        finite = features[index][np.isfinite(features[index])]
        axis.hist(finite, bins=bins, color="tab:blue")
        axis.set_title(f"{feature_name} {index}", fontsize=8)
        axis.tick_params(labelsize=6)
    figure.suptitle(title)
    return figure


def _colour_scale(images: Sequence[np.ndarray]) -> dict[str, float]:
    """vmin and vmax shared by ``images`` (their finite values), for imshow."""
    finite = np.concatenate([np.asarray(image, dtype=np.float64).ravel() for image in images])
    finite = finite[np.isfinite(finite)]
    return {"vmin": float(finite.min()), "vmax": float(finite.max())} if finite.size else {}


def maps_figure(rows: dict[str, list[np.ndarray]], title: str) -> Figure:
    """One row of images per entry of ``rows`` (e.g. mean and std), one column per channel."""
    n_columns = max(len(images) for images in rows.values())
    wide = all(image.shape[0] == 1 for images in rows.values() for image in images)
    size = (9, 1.2 * len(rows) + 0.8) if wide else (1.8 * n_columns + 1, 1.9 * len(rows) + 0.6)
    figure, axes = plt.subplots(len(rows), n_columns, figsize=size, layout="constrained", squeeze=False)
    for row, (name, images) in zip(axes, rows.items()):
        # one colour scale per row, so that the channels of a row compare (the colour bar holds for all of them)
        scale = _colour_scale(images)
        for column, axis in enumerate(row):
            axis.set_xticks([])
            axis.set_yticks([])
            if column >= len(images):
                axis.set_visible(False)
                continue
            shown = axis.imshow(images[column], cmap="viridis", aspect="auto" if wide else "equal", **scale)
            if column == 0:
                axis.set_ylabel(name)
            if column == len(images) - 1:
                figure.colorbar(shown, ax=axis, shrink=0.8)
    figure.suptitle(title)
    return figure


def pooling_figure(values: np.ndarray, reducer, shape: Sequence[int], title: str) -> Figure:
    """A few samples' first channel before and after the pooling of the reduce settings."""
    examples = np.asarray(values)[:N_POOL_EXAMPLES]
    pooled = reducer.pool(examples).reshape(len(examples), *reducer.pooled_shape)
    images = examples.reshape(len(examples), *shape)
    figure, axes = plt.subplots(
        2, len(examples), figsize=(2.0 * len(examples), 4.2), layout="constrained", squeeze=False
    )
    scale = _colour_scale([images[:, 0], pooled[:, 0]])
    for column in range(len(examples)):
        axes[0, column].imshow(images[column, 0], cmap="viridis", **scale)
        shown = axes[1, column].imshow(pooled[column, 0], cmap="viridis", **scale)
        axes[0, column].set_title(f"sample {column}", fontsize=8)
        for axis in axes[:, column]:
            axis.set_xticks([])
            axis.set_yticks([])
    axes[0, 0].set_ylabel(f"channel 0 {tuple(shape[1:])}")
    axes[1, 0].set_ylabel(f"pooled {tuple(reducer.pooled_shape[1:])}")
    figure.colorbar(shown, ax=axes[:, -1], shrink=0.8)
    figure.suptitle(title)
    return figure


# ---------------------------------------------------------------- a run


def _evenly(n_rows: int, at_most: int) -> np.ndarray:
    return np.arange(n_rows) if n_rows <= at_most else np.linspace(0, n_rows - 1, at_most).round().astype(int)


def _layer_and_epoch(root, params: Any) -> tuple[str, int, int]:
    from ibpipe.io.layers import layer_names, read_array

    layers = layer_names(root)
    layer = layers[0] if params.layer == "auto" else params.layer
    if layer not in layers:
        raise InputError(f"describe.layer = {params.layer!r}: allowed are 'auto' or one of {', '.join(layers)}")
    epochs = [int(epoch) for epoch in read_array(root, "epoch")]
    epoch = epochs[-1] if params.epoch == -1 else params.epoch
    if epoch not in epochs:
        raise InputError(f"describe.epoch = {params.epoch}: not a measured epoch; measured are {epochs} (or -1)")
    return layer, epoch, epochs.index(epoch)


def _description(codes, layer: str) -> dict[str, Any] | None:
    """The codes store's description of ``layer``'s reduction (the first named one in an ablation)."""
    from ibpipe.io.attrs import REDUCTION_DESCRIPTIONS_ATTR, REDUCTIONS_ATTR

    if codes is None or REDUCTION_DESCRIPTIONS_ATTR not in codes.attrs:
        return None
    described = json.loads(codes.attrs[REDUCTION_DESCRIPTIONS_ATTR])
    if REDUCTIONS_ATTR in codes.attrs:
        described = described[codes.attrs[REDUCTIONS_ATTR][0]]
    return described.get(layer)


def describe_run(activations, codes, params: Any) -> tuple[dict[str, Figure], dict[str, Any]]:
    """The figures (by file stem) and the summary numbers of an activations store and its codes store
    (``codes`` may be None: no borders of a coding, no pooling), as the ``describe`` section says."""
    from ibpipe.io.layers import input_shape, layer_shapes, read_array, trial_prefix

    labels = read_array(activations, "labels")
    inputs = read_array(activations, "inputs")
    shape = input_shape(activations)
    positions = [tuple(position) for position in params.pixels] or default_positions(shape)
    columns = [input_column(shape, position) for position in positions]
    ones, threshold = binarise(inputs[:, columns], middle_of_range(inputs))  # the whole input range's middle
    test = independence_test(ones[:, 0], ones[:, 1])
    figures = {
        "labels": label_figure(labels),
        "inputs": input_figure(inputs, shape, columns, positions, test, params.bins),
    }
    image_shape = shape if len(shape) >= 2 else (shape[0],)
    figures["input_maps"] = maps_figure(
        {"mean": as_images(inputs.mean(axis=0), image_shape, 1), "std": as_images(inputs.std(axis=0), image_shape, 1)},
        "inputs: mean and standard deviation over the samples",
    )

    layer, epoch, position = _layer_and_epoch(activations, params)
    layer_shape = layer_shapes(activations)[layer]
    rows = _evenly(len(labels), MAX_SAMPLES)
    values = read_array(activations, f"{trial_prefix(0)}{layer}/activation", (position, rows)).astype(np.float64)
    where = f"{layer}, epoch {epoch}"
    feature_name = "channel" if len(layer_shape) == 3 else "unit"
    features = feature_values(values, layer_shape, params.max_features)
    figures["latent_histograms"] = histogram_figure(features, params.bins, f"{where}: activations", feature_name)
    figures["latent_maps"] = maps_figure(
        {
            "mean": as_images(np.nanmean(values, axis=0), layer_shape, params.max_features),
            "std": as_images(np.nanstd(values, axis=0), layer_shape, params.max_features),
        },
        f"{where}: mean and standard deviation over the samples",
    )
    description = _description(codes, layer)
    reducer = reducer_of(description, layer_shape)
    pooled_shape = layer_shape if reducer is None else reducer.pooled_shape
    borders, kind = layer_borders(values if reducer is None else reducer.pool(values), description)
    figures["borders"] = maps_figure(
        {
            "low": as_images(borders[0], pooled_shape, params.max_features),
            "high": as_images(borders[1], pooled_shape, params.max_features),
        },
        f"{where}: borders of the coding ({kind})",
    )
    pools = reducer is not None and reducer.window is not None and len(layer_shape) == 3
    if pools:
        figures["pooled_examples"] = pooling_figure(
            values, reducer, layer_shape, f"{where}: {reducer.reduction.pool_kind} pooling by {list(reducer.window)}"
        )
    classes, counts = np.unique(labels, return_counts=True)
    summary = {
        "labels": {str(label): int(count) for label, count in zip(classes, counts)},
        "independence": {
            "positions": [list(position) for position in positions],
            "threshold": threshold,
            "share_of_ones": ones.mean(axis=0).tolist(),
            **test,
        },
        "layer": layer,
        "epoch": epoch,
        "samples": len(rows),
        "borders": kind,
        "pool": list(reducer.window) if pools else None,
    }
    return figures, summary
