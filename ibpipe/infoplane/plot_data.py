"""Per-epoch rows of the information curves, for DVC's native plots (`dvc plots show`, `dvc plots diff`)."""

from __future__ import annotations

import numpy as np
import xarray as xr


def main_estimator(metrics: xr.Dataset) -> str:
    """plugin when measured (the estimator of the studies compared), else the first one listed."""
    estimators = metrics.estimator.values.tolist()
    return "plugin" if "plugin" in estimators else estimators[0]


# The per-layer panels, left to right: the layer's entropy, then the two informations.
PANEL_QUANTITIES = ("H_T", "I_XT", "I_TY")
PANEL_LABELS = {"H_T": "H(T) [bits]", "I_XT": "I(X;T) [bits]", "I_TY": "I(T;Y) [bits]"}


def panel_quantities(metrics: xr.Dataset) -> tuple[str, ...]:
    """The quantities a per-layer figure draws: H(T), I(X;T), I(T;Y) (H(T) only when the metrics hold it)."""
    return tuple(name for name in PANEL_QUANTITIES if name in metrics.data_vars)


def label_entropy(metrics: xr.Dataset) -> xr.DataArray | float:
    """H(Y) in bits: per split when the metrics are measured on several, else the attribute."""
    return metrics["H_Y"] if "H_Y" in metrics.data_vars else float(metrics.attrs["H_Y"])


def ceiling_data(metrics: xr.Dataset, estimator: str) -> xr.Dataset:
    """What the ceiling figure draws, for ``estimator`` (trial means): ``I_TY`` (epoch, layer), its ceiling ``H_Y``
    and ``share`` = I(T;Y) / H(Y); ``final_I_TY`` and ``final_share`` per layer at the last measured epoch."""
    i_ty = metrics["I_TY"].sel(estimator=estimator)
    if "trial" in i_ty.dims:
        i_ty = i_ty.mean("trial")
    h_y = float(label_entropy(metrics))
    last = i_ty.isel(epoch=-1, drop=True)
    return xr.Dataset(
        {
            "I_TY": i_ty.transpose("epoch", "layer"),
            "share": (i_ty / h_y).transpose("epoch", "layer"),
            "final_I_TY": last,
            "final_share": last / h_y,
        },
        attrs={"H_Y": h_y, "estimator": estimator, "final_epoch": int(metrics.epoch.values[-1])},
    )


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
