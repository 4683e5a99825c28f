"""The autoencoder entropy curves (leave-one-out and Monte Carlo) with their bends, the MSE with its elbow, the
codes' correlation dimension and the ln C(r) against ln r curves behind it, fitted ranges marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure


def _restart_band(axis, curves: xr.Dataset, name: str, colour: str) -> None:
    """Mean +- one sd over restarts (when stored) behind the best restart's line."""
    if f"{name}_restarts" not in curves:
        return
    runs = curves[f"{name}_restarts"]
    mean, spread = runs.mean("restart").values, runs.std("restart", ddof=1).values
    axis.plot(curves.d.values, mean, color=colour, linestyle="--", linewidth=0.8, alpha=0.7)
    axis.fill_between(curves.d.values, mean - spread, mean + spread, color=colour, alpha=0.15, linewidth=0)


def correlation_integrals(axis, curves: xr.Dataset) -> None:
    """ln C(r) against ln r of the codes of every code size (thin, labelled 'd = k'), each with its fitted line
    drawn thick over its scaling range (labelled 'fit d = k'): the data of both are the Dataset's ``ln_r``,
    ``ln_C``, ``fit_ln_r`` and ``fit_line``."""
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, curves.sizes["d"]))
    for colour, d in zip(colours, curves.d.values.tolist()):
        one = curves.sel(d=d)
        axis.plot(
            one.ln_r.values, one.ln_C.values, color=colour, linewidth=0.9, marker=".", markersize=3, label=f"d = {d}"
        )
        slope, intercept = one.fit_line.values
        ends = one.fit_ln_r.values
        axis.plot(ends, slope * ends + intercept, color=colour, linewidth=3, alpha=0.6, label=f"fit d = {d}")
    axis.set_xlabel("ln r")
    axis.set_ylabel("ln C(r)")
    axis.set_title("Correlation integral of the codes (thick: fitted range, slope = dimension)", fontsize=9)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=6, ncol=2)


def ae_entropy_curves(curves: xr.Dataset) -> Figure:
    """Entropy curves over code size with their bends, the MSE with its elbow, and the codes' correlation dimension."""
    scaling = "ln_C" in curves
    figure, axes = plt.subplots(1, 4 if scaling else 3, figsize=(20 if scaling else 15, 4.4), layout="constrained")
    d = curves.d.values
    entropies = (("H_raw", "tab:blue"), ("H_mc", "tab:purple"), ("H_std", "tab:orange"), ("I_noise", "tab:green"))
    for name, colour in ((name, colour) for name, colour in entropies if name in curves):
        axes[0].plot(
            d, curves[name].values, marker="o", color=colour, label=f"{name} (bend {curves.attrs[f'bend_{name}']:.2f})"
        )
        axes[0].axvline(curves.attrs[f"bend_{name}"], color=colour, linestyle=":", linewidth=1)
        _restart_band(axes[0], curves, name, colour)
    axes[0].set_ylabel("nats")
    axes[0].set_title("Entropy of the codes")
    axes[1].semilogy(d, curves.mse.values, marker="o", color="black")
    axes[1].axvline(
        curves.attrs["mse_elbow"], color="black", linestyle=":", label=f"elbow {curves.attrs['mse_elbow']:.2f}"
    )
    _restart_band(axes[1], curves, "mse", "black")
    axes[1].set_ylabel("held-out MSE")
    axes[1].set_title("Reconstruction")
    axes[2].plot(d, curves.corrdim_codes.values, marker="o", label="codes")
    axes[2].axhline(
        curves.attrs["corrdim_data"],
        color="grey",
        linestyle="--",
        label=f"data, correlation {curves.attrs['corrdim_data']:.2f}",
    )
    axes[2].axhline(
        curves.attrs["nn_dim_data"], color="grey", linestyle=":", label=f"data, TwoNN {curves.attrs['nn_dim_data']:.2f}"
    )
    axes[2].set_ylabel("correlation dimension")
    axes[2].set_title("Dimension of the codes")
    if scaling:
        correlation_integrals(axes[3], curves)
    for axis in axes[:3]:
        axis.set_xlabel("code size d")
        axis.grid(True, alpha=0.3)
        true_dim = int(curves.attrs.get("true_dim", -1))
        if true_dim > 0:
            axis.axvline(true_dim, color="red", alpha=0.4, linewidth=2, label=f"true dimension {true_dim}")
        axis.legend(fontsize=8)
    restarts = int(curves.attrs.get("restarts", 1))
    note = f" (lines: best of {restarts} restarts by held-out MSE; dashed and band: mean +- sd)" if restarts > 1 else ""
    figure.suptitle(f"Autoencoder entropy curves: {curves.attrs.get('source', '')}{note}")
    return figure
