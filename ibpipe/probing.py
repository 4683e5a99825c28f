"""Probes for delta-skip selection: information of a few epochs, measured from the stored weights.

A probe rebuilds the network at each requested epoch, records its layers on the measured
rows, reduces them with the reduce settings in force (ranges that the reduce stage takes
over all epochs come from the probed epoch alone) and returns (I(X;T), I(T;Y)) per layer.
Nothing is written: the dump stage later stores activations of the selected epochs only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ibpipe import reduce as reducing
from ibpipe.estimators import ESTIMATORS, estimate_layer
from ibpipe.models import build_model, record_epochs
from ibpipe.store import open_weights_attrs, read_weights


def probe_epochs(
    epochs: Sequence[int],
    *,
    weights_path: str,
    inputs: np.ndarray,
    labels: np.ndarray,
    x_ids: np.ndarray,
    reduce_settings: Mapping[str, Any],
    estimator: str = "plugin",
) -> dict[int, np.ndarray]:
    """``{epoch: array (n_layers, 2)}`` of I(X;T), I(T;Y) in bits, layers in forward order."""
    if ESTIMATORS[estimator].needs != "codes":
        raise ValueError(f"probes use a counting estimator; {estimator!r} reads activations")
    model = build_model(**open_weights_attrs(weights_path)["model"])
    measured = {}
    for epoch, activations in record_epochs(model, read_weights(weights_path, epochs), torch.from_numpy(inputs)):
        rows = []
        for values in activations.values():
            codes = reducing.reduce_single_epoch(values, **reduce_settings)
            information = estimate_layer([estimator], labels, codes=codes, x_ids=x_ids)[estimator]
            rows.append((information["I_XT"], information["I_TY"]))
        measured[int(epoch)] = np.array(rows)
    return measured
