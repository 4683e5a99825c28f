"""t-SNE maps of each layer over epochs, each map started from the one before so the sequence reads as a film.

Why openTSNE (Policar, Strazar & Zupan, JSS 2024) and not scikit-learn: its ``fit`` takes an
initialisation array and lets the early-exaggeration phase be switched off
(``early_exaggeration_iter=0``), so a map continues from the previous epoch's map instead of
being re-folded from scratch; scikit-learn's ``TSNE`` uses an array ``init`` as is (no rescale)
and always runs its 250 exaggeration steps, which scrambles the continuity. openTSNE also has
``transform`` (placing new rows into a fixed map), left unused here: every epoch embeds the same
rows.

The sequence of one layer (van der Maaten & Hinton, JMLR 2008): the first map from a PCA
initialisation with the usual exaggeration; every later map from the previous map rescaled to
standard deviation 1e-4 (``openTSNE.initialization.rescale``, the scale openTSNE expects of an
initialisation), without exaggeration, for ``n_iter_next`` steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
import zarr

from ibpipe.errors import InputError
from ibpipe.io.layers import layer_names

EPOCH_NAMES = ("first", "peak", "last")


def sequence_epochs(
    choices: Sequence, measured: Sequence[int], information: np.ndarray | None
) -> list[tuple[str, int]]:
    """(name, measured epoch) of each map of one layer's sequence.

    ``choices``: 'first', 'last', 'peak' (the epoch of the largest ``information``, the layer's
    I(X;T) per measured epoch: the end of the fitting phase) or epoch numbers (the nearest
    measured epoch, named 'epoch N' after it). Sorted by epoch (stable) so each map continues the one
    before in training time.
    """
    measured = np.asarray(measured, dtype=np.int64)
    chosen = []
    for choice in choices:
        if choice == "first":
            chosen.append(int(measured[0]))
        elif choice == "last":
            chosen.append(int(measured[-1]))
        elif choice == "peak":
            if information is None or not np.any(np.isfinite(information)):
                raise ValueError("the 'peak' epoch needs the layer's I(X;T) over the measured epochs")
            chosen.append(int(measured[int(np.nanargmax(information))]))
        else:
            chosen.append(int(measured[int(np.argmin(np.abs(measured - int(choice))))]))
    names = [choice if choice in EPOCH_NAMES else f"epoch {epoch}" for choice, epoch in zip(choices, chosen)]
    return sorted(zip(names, chosen), key=lambda pair: pair[1])


def embed_sequence(
    maps: Sequence[np.ndarray],
    *,
    perplexity: float = 30.0,
    n_iter: int = 500,
    n_iter_next: int = 250,
    dimensions: int = 2,
    seed: int = 0,
    n_jobs: int = 1,
) -> np.ndarray:
    """t-SNE embeddings (n_maps, n_rows, dimensions) of the same rows at successive epochs.

    ``maps`` are (n_rows, n_units) arrays in sequence order. Deterministic for a seed (openTSNE
    with ``random_state``; Barnes-Hut gradients). Perplexity is capped at (n_rows - 1) / 3, the
    largest the neighbour search allows.
    """
    from openTSNE import TSNE
    from openTSNE.initialization import rescale

    n_rows = len(maps[0])
    perplexity = min(perplexity, (n_rows - 1) / 3)
    common = {
        "n_components": dimensions,
        "perplexity": perplexity,
        "random_state": seed,
        "n_jobs": n_jobs,
        # FFT interpolation handles at most 2 dimensions; Barnes-Hut is the choice below ~10 000 rows anyway
        "negative_gradient_method": "bh",
        "verbose": False,
    }
    embeddings, previous = [], None
    for values in maps:
        values = np.asarray(values, dtype=np.float64).reshape(n_rows, -1)
        if previous is None:
            # PCA is undefined for a constant layer and for fewer units than map dimensions
            usable_pca = values.shape[1] >= dimensions and np.any(values.std(axis=0) > 0)
            start = "pca" if usable_pca else "random"
            embedding = TSNE(n_iter=n_iter, initialization=start, **common).fit(values)
        else:
            tsne = TSNE(n_iter=n_iter_next, early_exaggeration_iter=0, **common)
            embedding = tsne.fit(values, initialization=rescale(previous))
        previous = np.asarray(embedding)
        embeddings.append(previous)
    return np.stack(embeddings)


def seeded_rows(n_available: int, n_rows: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded subset of ``n_rows`` of ``n_available`` rows (all when fewer)."""
    if n_rows >= n_available:
        return np.arange(n_available)
    return np.sort(np.random.default_rng(seed).choice(n_available, size=n_rows, replace=False))


def peak_curves(metrics: xr.Dataset, estimator: str, measured: np.ndarray) -> xr.DataArray:
    """I(X;T) of ``estimator`` per (layer, measured epoch) of trial 0 (first split, reduction): what 'peak'
    looks for. The maps show trial 0's activations (the root groups)."""
    if estimator not in metrics.estimator.values:
        raise InputError(
            f"tsne.peak_estimator = {estimator!r} is not in the metrics; "
            f"its estimators are {', '.join(metrics.estimator.values.tolist())}"
        )
    information = metrics["I_XT"].sel(estimator=estimator).reindex(epoch=measured)
    for dim in ("split", "reduction", "trial"):
        if dim in information.dims:
            information = information.isel({dim: 0}, drop=True)
    return information


def tsne_maps(root: zarr.Group, tsne_params: Any, information: xr.DataArray | None) -> xr.Dataset:
    """The t-SNE sequence of every layer of the activations store ``root`` at the epochs the validated ``tsne``
    section names: embedding (layer, step, row, component), epoch and step_name (layer, step), label and
    sample (row). ``information``: ``peak_curves``, needed when the epochs name 'peak'."""
    measured = np.asarray(root["epoch"][...])
    rows = seeded_rows(root["labels"].shape[0], tsne_params.n_rows, tsne_params.seed)
    layers = layer_names(root)
    embeddings, epochs, names = [], [], []
    for layer in layers:
        curve = None if information is None else information.sel(layer=layer).values
        named = sequence_epochs(tsne_params.epochs, measured, curve)
        positions = [int(np.flatnonzero(measured == epoch)[0]) for _, epoch in named]
        maps = [np.asarray(root[layer]["activation"][position])[rows] for position in positions]
        embeddings.append(
            embed_sequence(
                maps,
                perplexity=tsne_params.perplexity,
                n_iter=tsne_params.n_iter,
                n_iter_next=tsne_params.n_iter_next,
                dimensions=tsne_params.dimensions,
                seed=tsne_params.seed,
                n_jobs=tsne_params.n_jobs,
            )
        )
        epochs.append([epoch for _, epoch in named])
        names.append([name for name, _ in named])
    return xr.Dataset(
        {
            "embedding": (("layer", "step", "row", "component"), np.stack(embeddings)),
            "epoch": (("layer", "step"), np.asarray(epochs, dtype=np.int64)),
            "label": (("row",), np.asarray(root["labels"][...])[rows]),
            "sample": (("row",), np.asarray(root["sample"][...])[rows]),
            "step_name": (("layer", "step"), np.asarray(names, dtype=str)),
        },
        coords={"layer": layers},
    )
