"""Per-epoch rows of the information curves, for DVC's native plots (`dvc plots show`, `dvc plots diff`)."""

from __future__ import annotations

import numpy as np
import xarray as xr


def main_estimator(metrics: xr.Dataset) -> str:
    """plugin when measured (the estimator of the studies compared), else the first one listed."""
    estimators = metrics.estimator.values.tolist()
    return "plugin" if "plugin" in estimators else estimators[0]


def information_rows(metrics: xr.Dataset, estimator: str) -> list[dict]:
    """One row per (epoch, layer): I(X;T), I(T;Y) in bits of ``estimator``; trial means when there is a trial dim.

    Any other dim (a ``reduction``, a ``split``) is folded into the layer label ('hidden1 split=test'),
    so every curve stays one line and the rows stay flat.
    """
    selected = metrics[["I_XT", "I_TY"]].sel(estimator=estimator)
    if "trial" in selected.dims:
        selected = selected.mean("trial")
    extra = [dim for dim in selected.I_XT.dims if dim not in ("epoch", "layer")]
    stacked = selected.stack(curve=["layer", *extra]) if extra else selected.rename(layer="curve")
    labels = [
        " ".join([str(key[0]), *(f"{dim}={value}" for dim, value in zip(extra, key[1:]))]) if extra else str(key)
        for key in stacked.curve.values.tolist()
    ]
    ixt = stacked.I_XT.transpose("curve", "epoch").values
    ity = stacked.I_TY.transpose("curve", "epoch").values
    rows = []
    for position, label in enumerate(labels):
        for column, epoch in enumerate(stacked.epoch.values.tolist()):
            if np.isfinite(ixt[position, column]) and np.isfinite(ity[position, column]):
                rows.append(
                    {
                        "epoch": int(epoch),
                        "layer": label,
                        "I_XT": round(float(ixt[position, column]), 6),
                        "I_TY": round(float(ity[position, column]), 6),
                    }
                )
    return rows
