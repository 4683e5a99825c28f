"""The information-plane point the examples print: the last recorded layer at the last recorded epoch.

``ibpipe.measure`` codes the recorded activations as the reduce stage does (Tishby's 30 fixed-width
bins, here over each layer's range across every recorded epoch, ``value_range: data``) and measures
them as the estimate stage does (plug-in), X being the distinct probe inputs.
"""

from __future__ import annotations

import ibpipe


def last_point(store: str) -> dict:
    """{layer, epoch, I_XT, I_TY, H_X, H_Y} in bits for the last layer and epoch of ``store``."""
    plane = ibpipe.measure(store, estimators=["plugin"], reduce={"value_range": "data"})
    point = plane.isel(layer=-1, epoch=-1, trial=0).sel(estimator="plugin")
    return {
        "layer": str(point.layer.values),
        "epoch": int(point.epoch),
        "I_XT": float(point.I_XT),
        "I_TY": float(point.I_TY),
        "H_X": float(plane.attrs["H_X"]),
        "H_Y": float(plane.attrs["H_Y"]),
    }


def report(store: str) -> None:
    point = last_point(store)
    print(
        f"layer {point['layer']} epoch {point['epoch']}: "
        f"I(X;T) = {point['I_XT']:.3f} bits (H(X) = {point['H_X']:.3f}), "
        f"I(T;Y) = {point['I_TY']:.3f} bits (H(Y) = {point['H_Y']:.3f})"
    )
