"""Information per (epoch, layer, estimator): the task run on Dask workers and the Dataset it fills."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ibpipe import reduce as reducing
from ibpipe.estimators import ESTIMATORS, QUANTITIES
from ibpipe.estimators.plugin import entropy_bits

QUANTITY_NAMES = {
    "H_T": "entropy of the layer H(T)",
    "I_XT": "mutual information between input and layer I(X;T)",
    "I_TY": "mutual information between layer and label I(T;Y)",
}
ESTIMATOR_REFERENCES = {
    "plugin": "plug-in entropy of binned activations; Shwartz-Ziv & Tishby, arXiv:1703.00810 (2017)",
}


def information(
    t: np.ndarray,
    y: np.ndarray,
    estimator: str = "plugin",
    *,
    x_ids: np.ndarray | None = None,
    n_bins: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    bin_size: float | None = None,
) -> dict[str, float]:
    """H(T), I(X;T) and I(T;Y) in bits for one layer.

    Parameters
    ----------
    t : (n_samples, n_units) activations, or integer codes when no binning option is given.
    y : (n_samples,) integer labels.
    estimator : one of ``ESTIMATORS``.
    x_ids : (n_samples,) which distinct input each row came from; default: all rows distinct.
    n_bins, value_range : Tishby's bins, left edges ``linspace(*value_range, n_bins)``.
    bin_size : Saxe's bins, ``floor(t / bin_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> info = information(np.array([[0], [1], [2], [3]]), np.array([0, 0, 1, 1]))
    >>> info["H_T"], info["I_TY"]
    (2.0, 1.0)
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")
    t = np.asarray(t)
    if t.ndim == 1:
        t = t[:, None]
    if n_bins is not None and bin_size is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    if n_bins is not None:
        t = reducing.fixed_width_codes(t, n_bins, value_range)
    elif bin_size is not None:
        t = reducing.fixed_size_codes(t, bin_size)
    elif not np.issubdtype(t.dtype, np.integer):
        raise ValueError("float activations need a binning option: n_bins (with value_range) or bin_size")
    return ESTIMATORS[estimator](t, np.asarray(y), x_ids)


def slab_information(codes_slab: np.ndarray, labels: np.ndarray, x_ids: np.ndarray, estimators: Sequence[str]) -> np.ndarray:
    """Information of each epoch in a (epoch, sample, unit) slab of codes.

    Returns an array (n_epochs, n_estimators, n_quantities) in bits, quantities in
    ``QUANTITIES`` order.
    """
    result = np.empty((len(codes_slab), len(estimators), len(QUANTITIES)))
    for position, codes in enumerate(codes_slab):
        for column, name in enumerate(estimators):
            values = ESTIMATORS[name](codes, labels, x_ids)
            result[position, column] = [values[q] for q in QUANTITIES]
    return result


def metrics_dataset(
    values: np.ndarray,
    epochs: Sequence[int],
    widths: Mapping[str, int],
    estimators: Sequence[str],
    labels: np.ndarray,
    x_ids: np.ndarray,
    attrs: Mapping[str, Any],
) -> xr.Dataset:
    """Label a (epoch, layer, estimator, quantity) array of bits as the metrics Dataset."""
    coords = {
        "epoch": ("epoch", np.asarray(epochs, dtype=np.int64)),
        "layer": ("layer", list(widths)),
        "estimator": ("estimator", list(estimators)),
        "layer_width": ("layer", np.asarray(list(widths.values()), dtype=np.int64)),
    }
    data_vars = {
        quantity: (("epoch", "layer", "estimator"), values[..., position], {"units": "bit", "long_name": QUANTITY_NAMES[quantity]})
        for position, quantity in enumerate(QUANTITIES)
    }
    dataset = xr.Dataset(data_vars, coords=coords)
    dataset["epoch"].attrs["long_name"] = "training epoch (0 = initial weights)"
    dataset["layer_width"].attrs["units"] = "unit"
    dataset.attrs.update(
        {
            "H_X": entropy_bits(x_ids),
            "H_Y": entropy_bits(labels),
            "entropy_units": "bit",
            "n_samples": len(labels),
            "inputs_unique": int(len(np.unique(x_ids)) == len(x_ids)),
            "estimator_references": "; ".join(f"{name}: {ESTIMATOR_REFERENCES[name]}" for name in estimators),
            **attrs,
        }
    )
    return dataset


def metrics_summary(metrics: xr.Dataset) -> dict[str, Any]:
    """Last-epoch I(X;T) and I(T;Y) per estimator and layer, for ``dvc metrics show``."""
    last = metrics.isel(epoch=-1)
    summary: dict[str, Any] = {"epoch": int(last.epoch), "H_X": round(float(metrics.attrs["H_X"]), 5), "H_Y": round(float(metrics.attrs["H_Y"]), 5)}
    for estimator in metrics.estimator.values.tolist():
        summary[estimator] = {
            layer: {q: round(float(last[q].sel(layer=layer, estimator=estimator)), 5) for q in ("I_XT", "I_TY")}
            for layer in metrics.layer.values.tolist()
        }
    return summary


def stored_slab_information(codes_path: str, layer: str, start: int, stop: int, *, labels: np.ndarray, x_ids: np.ndarray, estimators: Sequence[str]) -> np.ndarray:
    """The Dask task: read epochs [start, stop) of one layer from the codes store, then measure."""
    from ibpipe.store import read_slab

    return slab_information(read_slab(codes_path, layer, "code", start, stop), labels, x_ids, estimators)
