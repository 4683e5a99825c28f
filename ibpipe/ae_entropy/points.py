"""The points an autoencoder curve is measured on: a manifold, a dataset's inputs or a recorded layer,
at most n rows (a seeded subset), as float64."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ibpipe.data.datasets import DATASETS, load_dataset
from ibpipe.data.manifolds import MANIFOLDS, make_manifold
from ibpipe.dimension.loo_kde import standardise
from ibpipe.errors import InputError
from ibpipe.io.layers import layer_names, open_layer_store


def prepare_points(points: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Rows as float64 (n, features): duplicates merged (they collapse a leave-one-out bandwidth),
    at most ``max_rows`` kept (seeded), every feature standardised (constant ones only centred)."""
    points = np.unique(np.asarray(points, dtype=np.float64).reshape(len(points), -1), axis=0)
    if len(points) > max_rows:
        points = points[np.sort(np.random.default_rng(seed).choice(len(points), max_rows, replace=False))]
    return standardise(points)


def source_points(ae: Any, activations: Path) -> tuple[np.ndarray, int | None, str]:
    """(points, true dimension if known, a description) for the validated ``ae`` section's ``source``:
    a manifold, a dataset's inputs, or layer ``ae.layer`` of the activations store at ``ae.epoch``."""
    if ae.source in MANIFOLDS:
        points, true_dim = make_manifold(ae.source, ae.n_samples, ae.ambient_dim, ae.intrinsic_dim, ae.noise, ae.seed)
        return points, true_dim, f"{ae.source} (dimension {true_dim}) in R^{ae.ambient_dim}, noise {ae.noise}"
    if ae.source in DATASETS:
        return load_dataset(ae.source).inputs, None, f"the inputs of {ae.source}"
    root = open_layer_store(activations)
    layers = layer_names(root)
    if ae.layer not in layers:
        raise InputError(f"ae.layer = {ae.layer!r} is not a recorded layer; layers are {', '.join(layers)}")
    epochs = root["epoch"][...].tolist()
    epoch = epochs[-1] if ae.epoch == -1 else ae.epoch
    if epoch not in epochs:
        raise InputError(
            f"ae.epoch = {ae.epoch} was not measured; measured epochs run {epochs[0]}..{epochs[-1]} "
            "(see data/selection.json)"
        )
    return root[ae.layer]["activation"][epochs.index(epoch)], None, f"layer {ae.layer} at epoch {epoch}"
