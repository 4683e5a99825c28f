"""The information-plane point the examples print: the last recorded layer at the last recorded epoch.

The activations are coded the way the reduce stage codes a layer (``LayerReducer``: Tishby's 30
fixed-width bins, here over the layer's range across every recorded epoch, ``value_range: data``),
then measured with ``ibpipe.information`` (plug-in), X being the distinct probe inputs.
"""

from __future__ import annotations

import numpy as np

import ibpipe
from ibpipe.infoplane.reduce import LayerReducer, LayerReduction, input_state_ids
from ibpipe.io.layers import input_shape, layer_names, layer_shapes, open_layer_store, read_array


def last_point(store: str) -> dict:
    """{layer, epoch, I_XT, I_TY, H_X, H_Y} in bits for the last layer and epoch of ``store``'s activations."""
    root = open_layer_store(f"{store}/activations.zarr")
    layer = layer_names(root)[-1]
    values = read_array(root, f"{layer}/activation")  # (epoch, sample, unit)
    reducer = LayerReducer(
        LayerReduction(method="fixed-width", n_bins=30, value_range="data"), layer_shapes(root)[layer]
    )
    reducer.fit([values.reshape(-1, values.shape[-1])], values.shape[0] * values.shape[1])
    codes = reducer.transform(values[-1])
    labels = read_array(root, "labels")
    inputs = read_array(root, "inputs").reshape(len(labels), *input_shape(root))
    x_ids = input_state_ids(inputs, None)
    info = ibpipe.information(codes, labels, "plugin", x_ids=x_ids)
    return {
        "layer": layer,
        "epoch": int(read_array(root, "epoch")[-1]),
        "I_XT": info["I_XT"],
        "I_TY": info["I_TY"],
        "H_X": _entropy_bits(x_ids),
        "H_Y": _entropy_bits(labels),
    }


def report(store: str) -> None:
    point = last_point(store)
    print(
        f"layer {point['layer']} epoch {point['epoch']}: "
        f"I(X;T) = {point['I_XT']:.3f} bits (H(X) = {point['H_X']:.3f}), "
        f"I(T;Y) = {point['I_TY']:.3f} bits (H(Y) = {point['H_Y']:.3f})"
    )


def _entropy_bits(states: np.ndarray) -> float:
    _, counts = np.unique(states, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())
