"""Probes for delta-skip selection: information of a few epochs, measured from the stored weights.

A probe rebuilds the network at each requested epoch, records its layers on the measured
rows, reduces them with the per-layer reduce settings in force (ranges that the reduce
stage takes over all epochs come from the probed epoch alone) and returns (I(X;T), I(T;Y)) per layer.
Nothing is written: the dump stage later stores activations of the selected epochs only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ibpipe.data.datasets import Dataset
from ibpipe.estimators.registry import ESTIMATORS, estimate_layer
from ibpipe.infoplane import reduce as reducing
from ibpipe.infoplane.selection import delta_skip_approximate, delta_skip_exact
from ibpipe.io.attrs import MODEL_ATTR
from ibpipe.io.weights import open_weights_attrs, read_weights, stored_trials
from ibpipe.names import INPUT_LAYER
from ibpipe.nn.architectures import build_model
from ibpipe.nn.layers import layer_shapes, record_epochs


def probe_epochs(
    epochs: Sequence[int],
    *,
    weights_path: str,
    inputs: np.ndarray,
    labels: np.ndarray,
    x_ids: np.ndarray,
    reductions: Mapping[str, reducing.LayerReduction],
    shapes: Mapping[str, Sequence[int]],
    estimator: str = "plugin",
) -> dict[int, np.ndarray]:
    """``{epoch: array (n_trials x n_layers, 2)}`` of I(X;T), I(T;Y) in bits, trial-major, layers in forward
    order; NaN for a layer whose activations hold NaN or inf (the estimate stage's rule). Every trial's
    rows side by side, so the delta-skip distance (a max over rows) is the largest over trials."""
    if ESTIMATORS[estimator].needs != "codes":
        raise ValueError(f"probes use a counting estimator; {estimator!r} reads activations")
    model = build_model(open_weights_attrs(weights_path)[MODEL_ATTR])
    reducers = reducing.layer_reducers(reductions, shapes)
    measured: dict[int, list] = {int(epoch): [] for epoch in epochs}
    for trial in range(stored_trials(weights_path)):
        trial_weights = read_weights(weights_path, epochs, trial)
        for epoch, activations in record_epochs(model, trial_weights, torch.from_numpy(inputs)):
            for layer, values in activations.items():
                if not np.isfinite(values).all():  # diverged: NaN, which delta-skip bisects towards
                    measured[int(epoch)].append((np.nan, np.nan))
                    continue
                codes = reducers[layer].fit_transform_epoch(values)
                information = estimate_layer([estimator], labels, codes=codes, x_ids=x_ids)[estimator]
                measured[int(epoch)].append((information["I_XT"], information["I_TY"]))
    return {epoch: np.array(rows) for epoch, rows in measured.items()}


def probe_setup(
    dataset: Dataset, reduce, estimator: str, weights_path: str
) -> tuple[dict[str, Any], tuple[float, float]]:
    """Keyword arguments of ``probe_epochs`` (the measured rows of ``dataset``, coded as the ``reduce`` params
    section says, counted by ``estimator``), and (H(X), H(Y)) in bits for the distance."""
    from ibpipe.estimators.plugin import entropy_bits

    inputs, labels = dataset.inputs[dataset.measured_rows], dataset.labels[dataset.measured_rows]
    shapes = layer_shapes(build_model(open_weights_attrs(weights_path)[MODEL_ATTR]), torch.from_numpy(inputs))
    reductions = reducing.layer_reductions(
        reduce.layer_defaults(), list(shapes), reduce.preset_name, reduce.layer_overrides()
    )
    x_ids = reducing.input_state_ids(inputs, reductions.pop(INPUT_LAYER))
    shared = {
        "weights_path": weights_path,
        "inputs": inputs,
        "labels": labels,
        "x_ids": x_ids,
        "reductions": reductions,
        "shapes": shapes,
        "estimator": estimator,
    }
    return shared, (entropy_bits(x_ids), entropy_bits(labels))


def parallel_probe(client, shared: Mapping[str, Any]):
    """A probe for the delta-skip searches: one Dask task per requested epoch, all of a batch at once."""
    from ibpipe.parallel import run_tasks, share

    shared = share(client, dict(shared))

    def probe(epochs: Sequence[int]) -> dict[int, np.ndarray]:
        measured: dict[int, np.ndarray] = {}
        for part in run_tasks(client, probe_epochs, [([epoch],) for epoch in epochs], shared, None):
            measured.update(part)
        return measured

    return probe


# The delta-skip searches of ``select.method``: they probe the trained network at the epochs they consider.
SEARCHES = {"delta-exact": delta_skip_exact, "delta-approx": delta_skip_approximate}


def delta_skip_selection(select_params: Any, n_epochs: int, dataset: Dataset, reduce: Any, weights: str) -> dict:
    """The validated ``select`` section's delta-skip search over ``n_epochs`` of ``weights``, probing on
    ``dataset``'s measured rows coded as the ``reduce`` section says, on local Dask workers (one worker: in this
    process, which spares the ~4 s a one-process cluster takes to start and to ship each probe)."""
    from ibpipe.parallel import dask_client

    shared, source_entropies = probe_setup(dataset, reduce, select_params.probe, weights)
    scheduler = "synchronous" if select_params.workers == 1 else "local"
    with dask_client(scheduler, select_params.workers, key="select.workers") as client:
        probe = parallel_probe(client, shared)
        result = SEARCHES[select_params.method](
            n_epochs, probe, source_entropies, select_params.delta, select_params.factor, select_params.distance
        )
    return {"delta": select_params.delta, "distance": select_params.distance, **result}
