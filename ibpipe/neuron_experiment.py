"""The neuron-space experiment: bootstrap replicas of a one-hidden-layer net, neuron Gaussians, compression curves.

1. ``train_net``: full-batch Adam on a one-hidden-layer net (seeded). The reference is trained on
   all training rows; each of B replicas on a bootstrap resample of them, starting from the
   reference's initial weights (``init: same``) or its own (``independent``).
2. ``align_replicas``: each replica's hidden neurons matched to the reference's (Hungarian on
   |activation correlation| over the training inputs, or on weight cosines), with sign flips
   for odd activations; the matched correlation per neuron is the alignment quality.
3. ``compression_curves``: k-means of the neuron Gaussians for each k, metric and restart; every
   neuron replaced by its centre's mean, identical neurons merged exactly, test accuracy and
   parameters of the merged net; a paired sign test of W2 against squared Euclidean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from torch import nn

from ibpipe import neurons
from ibpipe.neural_compression import HiddenLayerNet, accuracy, layer_arrays, merged_net, parameter_count

METRICS = ("euclidean", "w2")
ODD_ACTIVATIONS = ("tanh", "linear")


@dataclass(frozen=True)
class NetSettings:
    hidden: int = 32
    activation: str = "tanh"
    epochs: int = 1000
    learning_rate: float = 1.0e-2
    seed: int = 0


def train_net(inputs: np.ndarray, labels: np.ndarray, settings: NetSettings, initial_state: dict | None = None, seed: int | None = None) -> HiddenLayerNet:
    """Full-batch Adam on cross-entropy; ``initial_state`` (a state_dict) replaces the seeded initialisation."""
    torch.manual_seed(settings.seed if seed is None else seed)
    x, y = torch.as_tensor(inputs, dtype=torch.float32).flatten(1), torch.as_tensor(labels, dtype=torch.long)
    net = HiddenLayerNet(x.shape[1], settings.hidden, int(labels.max()) + 1, settings.activation)
    if initial_state is not None:
        net.load_state_dict(initial_state)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    for _ in range(settings.epochs):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    return net.eval()


def initial_state(n_inputs: int, n_classes: int, settings: NetSettings) -> dict:
    torch.manual_seed(settings.seed)
    return HiddenLayerNet(n_inputs, settings.hidden, n_classes, settings.activation).state_dict()


def replica_arrays(replica: int, *, inputs: np.ndarray, labels: np.ndarray, settings: NetSettings, shared_start: dict | None) -> tuple[np.ndarray, ...]:
    """The Dask task of one replica: train on a seeded bootstrap resample; (w_in, b_in, w_out, b_out)."""
    torch.set_num_threads(1)
    rows = np.random.default_rng([settings.seed, replica]).integers(0, len(labels), len(labels))
    # Every class must appear for the output layer to keep its meaning; resample until it does.
    attempt = 0
    while len(np.unique(labels[rows])) < len(np.unique(labels)):
        attempt += 1
        rows = np.random.default_rng([settings.seed, replica, attempt]).integers(0, len(labels), len(labels))
    net = train_net(inputs[rows], labels[rows], settings, shared_start, seed=settings.seed + 1 + replica)
    return layer_arrays(net)


def hidden_activations(w_in: np.ndarray, b_in: np.ndarray, inputs: np.ndarray, activation: str) -> np.ndarray:
    net = HiddenLayerNet.from_arrays(w_in.astype(np.float64), b_in.astype(np.float64), np.zeros((1, len(b_in))), np.zeros(1), activation)
    with torch.no_grad():
        return net.hidden_activations(torch.as_tensor(np.asarray(inputs, dtype=np.float64))).numpy()


def align_replicas(reference: tuple[np.ndarray, ...], replicas: list[tuple[np.ndarray, ...]], inputs: np.ndarray, activation: str, method: str = "activations") -> dict[str, np.ndarray]:
    """Replicas' layers re-indexed (and sign-flipped) to the reference: w_in (B, h, p), b_in (B, h), w_out (B, o, h), quality (B, h)."""
    odd = activation in ODD_ACTIVATIONS
    reference_in = np.concatenate([reference[0], reference[1][:, None]], axis=1)
    reference_hidden = hidden_activations(reference[0], reference[1], inputs, activation) if method == "activations" else None
    aligned = {"w_in": [], "b_in": [], "w_out": [], "b_out": [], "quality": []}
    for w_in, b_in, w_out, b_out in replicas:
        if method == "activations":
            permutation, signs, quality = neurons.align_to_reference(reference_hidden, hidden_activations(w_in, b_in, inputs, activation), odd)
        else:
            permutation, signs, quality = neurons.align_by_weights(reference_in, np.concatenate([w_in, b_in[:, None]], axis=1), odd)
        for name, value in zip(("w_in", "b_in", "w_out"), neurons.apply_alignment(w_in, b_in, w_out, permutation, signs)):
            aligned[name].append(value)
        aligned["b_out"].append(b_out)
        aligned["quality"].append(quality)
    return {name: np.stack(values) for name, values in aligned.items()}


def compression_curves(
    means: np.ndarray,
    covs: np.ndarray,
    reference: tuple[np.ndarray, ...],
    activation: str,
    test_inputs: np.ndarray,
    test_labels: np.ndarray,
    ks: list[int],
    restarts: int,
    seed: int,
    metrics: tuple[str, ...] = METRICS,
) -> xr.Dataset:
    """accuracy (metric, k, restart) and params (k) of the merged nets, with the paired W2-vs-Euclidean sign tests.

    Restart r of every metric and k uses seed + r (one k-means++ seeding each), so the two
    metrics are compared on paired runs.
    """
    from threadpoolctl import threadpool_limits

    w_in, b_in, w_out, b_out = (np.asarray(array, dtype=np.float64) for array in reference)
    full = HiddenLayerNet.from_arrays(w_in, b_in, w_out, b_out, activation)
    accuracies = np.empty((len(metrics), len(ks), restarts))
    parameters = np.zeros(len(ks), dtype=np.int64)
    # Thousands of small eigendecompositions: one BLAS thread is fastest (and never oversubscribes).
    with threadpool_limits(1):
        for m, metric in enumerate(metrics):
            for position, k in enumerate(ks):
                for restart in range(restarts):
                    result = neurons.kmeans(means, covs if metric == "w2" else None, k=k, metric=metric, n_init=1, seed=seed + restart)
                    merged = merged_net(full, result.labels, result.centre_means)
                    accuracies[m, position, restart] = accuracy(merged, test_inputs, test_labels)
                    parameters[position] = max(parameters[position], parameter_count(merged))
    dataset = xr.Dataset(
        {
            "accuracy": (("metric", "k", "restart"), accuracies, {"units": "1", "long_name": "test accuracy of the merged net"}),
            "params": ("k", parameters, {"units": "parameter", "long_name": "parameters of the merged net (both layers)"}),
        },
        coords={"metric": list(metrics), "k": np.asarray(ks), "restart": np.arange(restarts)},
    )
    dataset.attrs.update({"accuracy_full": accuracy(full, test_inputs, test_labels), "params_full": parameter_count(full)})
    if set(METRICS) <= set(metrics):
        difference = dataset.accuracy.sel(metric="w2") - dataset.accuracy.sel(metric="euclidean")
        dataset["mean_difference"] = ("k", difference.mean("restart").values, {"units": "1", "long_name": "mean accuracy W2 minus Euclidean"})
        dataset["p_value"] = ("k", [neurons.sign_test(dataset.accuracy.sel(metric="w2", k=k).values, dataset.accuracy.sel(metric="euclidean", k=k).values) for k in ks], {"long_name": "two-sided sign test, W2 vs Euclidean, per k"})
        dataset.attrs["p_value_overall"] = neurons.sign_test(dataset.accuracy.sel(metric="w2").values.ravel(), dataset.accuracy.sel(metric="euclidean").values.ravel())
        dataset.attrs["mean_difference_overall"] = float(difference.mean())
        # The sign test drops ties and treats every (k, restart) pair as independent; the counts show what it saw.
        dataset.attrs["w2_better"] = int((difference > 0).sum())
        dataset.attrs["euclidean_better"] = int((difference < 0).sum())
        dataset.attrs["ties"] = int((difference == 0).sum())
    return dataset


def smallest_parameters_at(curves: xr.Dataset, threshold: float = 0.9) -> dict[str, int | None]:
    """Per metric, the fewest parameters whose mean accuracy over restarts reaches ``threshold`` (None if never)."""
    smallest = {}
    for metric in curves.metric.values.tolist():
        reaching = curves.params.values[curves.accuracy.sel(metric=metric).mean("restart").values >= threshold]
        smallest[metric] = int(reaching.min()) if len(reaching) else None
    return smallest
