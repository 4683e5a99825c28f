"""Compression curves: k-means of the neuron Gaussians for each k, metric and restart; every neuron replaced
by its centre's mean, identical neurons merged exactly, test score (accuracy, or MSE of a forecast) and
parameters of the merged net; W2 against squared Euclidean by a paired permutation test of per-restart
areas under the curve (``ibpipe.neurons.statistics``), and the older pooled sign test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ibpipe.io.files import read_json
from ibpipe.neurons.circle import circle_structure, input_plane
from ibpipe.neurons.kmeans import kmeans
from ibpipe.neurons.layers import LAYER_ROWS, layer_inputs
from ibpipe.neurons.merge import sign_test
from ibpipe.neurons.network import HiddenLayerNet, layer_arrays, merged_net, parameter_count
from ibpipe.neurons.params import METRICS
from ibpipe.neurons.pipeline import PipelineEvaluator, load_state, pipeline_rows
from ibpipe.neurons.recurrent import RecurrentNet, merge_recurrent
from ibpipe.neurons.statistics import area_under_curve, higher_is_better, paired_comparison, verdict
from ibpipe.neurons.tasks import scores, task_of


class OwnNetEvaluator:
    """Scores and parameters of a one-hidden-layer net merged to its centres (``merged_net``)."""

    def __init__(self, reference, activation: str, test_inputs, test_targets, kind: str = "classification"):
        w_in, b_in, w_out, b_out = (np.asarray(array, dtype=np.float64) for array in reference)
        self.full = HiddenLayerNet.from_arrays(w_in, b_in, w_out, b_out, activation)
        self.test_inputs, self.test_targets, self.kind = test_inputs, test_targets, kind
        self.full_scores = scores(self.full, test_inputs, test_targets, kind)
        self.params_full = parameter_count(self.full)

    def evaluate(self, labels: np.ndarray, centre_means: np.ndarray) -> tuple[dict[str, float], int]:
        merged = merged_net(self.full, labels, centre_means)
        return scores(merged, self.test_inputs, self.test_targets, self.kind), parameter_count(merged)


class ReadoutEvaluator(OwnNetEvaluator):
    """Scores and parameters when the read-out neurons (rows of w_out with b_out) are replaced by their centres.

    Read-out neurons that share a row compute the same output: the net stores each distinct row once
    (and copies its output), so a removed neuron saves its hidden + 1 numbers.
    """

    def evaluate(self, labels: np.ndarray, centre_means: np.ndarray) -> tuple[dict[str, float], int]:
        w_in, b_in, _, _ = layer_arrays(self.full)
        rows = np.asarray(centre_means, dtype=np.float64)[np.asarray(labels)]
        replaced = HiddenLayerNet.from_arrays(w_in, b_in, rows[:, :-1], rows[:, -1], self.full.activation)
        distinct = len(np.unique(rows, axis=0))
        count = self.params_full - (len(rows) - distinct) * rows.shape[1]
        return scores(replaced, self.test_inputs, self.test_targets, self.kind), count


class RecurrentEvaluator(OwnNetEvaluator):
    """Scores and parameters of a recurrent net (``ibpipe.neurons.recurrent``) merged to its centres."""

    def __init__(self, reference, activation: str, test_inputs, test_targets, kind: str = "series"):
        self.arrays = tuple(np.asarray(array, dtype=np.float64) for array in reference)
        self.full = RecurrentNet.from_arrays(*self.arrays, activation=activation)
        self.activation, self.test_inputs, self.test_targets, self.kind = activation, test_inputs, test_targets, kind
        self.full_scores = scores(self.full, test_inputs, test_targets, kind)
        self.params_full = parameter_count(self.full)

    def evaluate(self, labels: np.ndarray, centre_means: np.ndarray) -> tuple[dict[str, float], int]:
        merged = RecurrentNet.from_arrays(*merge_recurrent(self.arrays, labels, centre_means), self.activation)
        return scores(merged, self.test_inputs, self.test_targets, self.kind), parameter_count(merged)


def compression_curves(
    means: np.ndarray,
    covs: np.ndarray,
    reference: tuple[np.ndarray, ...],
    *,
    activation: str,
    test_inputs: np.ndarray,
    test_labels: np.ndarray,
    ks: list[int],
    restarts: int,
    seed: int,
    metrics: tuple[str, ...] = METRICS,
    kind: str = "classification",
    neuron_layer: str = "hidden",
) -> xr.Dataset:
    """``curves_of`` a one-hidden-layer net (``reference`` = (w_in, b_in, w_out, b_out)) on these test rows;
    ``means`` are the neurons of ``neuron_layer`` (hidden: merged, output: replaced rows shared; recurrent:
    the neurons of a recurrent net, ``reference`` = ([W | V], b, U, c), merged)."""
    evaluator_class = {"output": ReadoutEvaluator, "recurrent": RecurrentEvaluator}.get(neuron_layer, OwnNetEvaluator)
    evaluator = evaluator_class(reference, activation, test_inputs, test_labels, kind)
    return curves_of(evaluator, means, covs, ks=ks, restarts=restarts, seed=seed, metrics=metrics, kind=kind)


def curves_of(
    evaluator, means: np.ndarray, covs: np.ndarray, *, ks: list[int], restarts: int, seed: int, metrics, kind: str
) -> xr.Dataset:
    """Scores (metric, k, restart) and params (k) of the merged nets, with the W2-vs-Euclidean comparisons.

    ``evaluator`` has ``full_scores``, ``params_full`` and ``evaluate(labels, centre_means)`` ->
    (scores, parameters) of the merged network. Scores: ``accuracy`` for classification, ``mse``
    and ``one_step_mse`` for a series task (``ibpipe.neurons.tasks.scores``); the first is the
    primary score, attrs ``<score>_full`` hold the uncompressed net's. Restart r of every metric
    and k uses seed + r (one k-means++ seeding each), so the two metrics are compared on paired runs.
    """
    from threadpoolctl import threadpool_limits

    metrics = tuple(metrics)
    values = {name: np.empty((len(metrics), len(ks), restarts)) for name in evaluator.full_scores}
    parameters = np.zeros(len(ks), dtype=np.int64)
    # Thousands of small eigendecompositions: one BLAS thread is fastest (and never oversubscribes).
    with threadpool_limits(1):
        for m, metric in enumerate(metrics):
            for position, k in enumerate(ks):
                for restart in range(restarts):
                    result = kmeans(
                        means, covs if metric == "w2" else None, k=k, metric=metric, n_init=1, seed=seed + restart
                    )
                    merged_scores, count = evaluator.evaluate(result.labels, result.centre_means)
                    for name, value in merged_scores.items():
                        values[name][m, position, restart] = value
                    parameters[position] = max(parameters[position], count)
    variables = {
        name: (("metric", "k", "restart"), array, {"units": "1", "long_name": f"{SCORE_NAMES[name]} of the merged net"})
        for name, array in values.items()
    }
    variables["params"] = (
        "k",
        parameters,
        {"units": "parameter", "long_name": "parameters of the merged net"},
    )
    dataset = xr.Dataset(
        variables, coords={"metric": list(metrics), "k": np.asarray(ks), "restart": np.arange(restarts)}
    )
    dataset.attrs.update({f"{name}_full": value for name, value in evaluator.full_scores.items()})
    dataset.attrs.update(
        {"params_full": evaluator.params_full, "task": kind, "primary_score": next(iter(evaluator.full_scores))}
    )
    if set(METRICS) <= set(metrics):
        _add_sign_tests(dataset, ks)
        _add_restart_comparison(dataset)
    return dataset


SCORE_NAMES = {
    "accuracy": "test accuracy",
    "mse": "test MSE (all targets, signal variance units)",
    "one_step_mse": "test MSE of the one-step forecast",
}


def _add_sign_tests(dataset: xr.Dataset, ks: list[int]) -> None:
    """Per-k and overall paired sign tests of W2 against squared Euclidean on the primary score, added in place."""
    score = dataset[dataset.attrs["primary_score"]]
    difference = score.sel(metric="w2") - score.sel(metric="euclidean")
    dataset["mean_difference"] = (
        "k",
        difference.mean("restart").values,
        {"units": "1", "long_name": f"mean {dataset.attrs['primary_score']} W2 minus Euclidean"},
    )
    dataset["p_value"] = (
        "k",
        [sign_test(score.sel(metric="w2", k=k).values, score.sel(metric="euclidean", k=k).values) for k in ks],
        {"long_name": "two-sided sign test, W2 vs Euclidean, per k"},
    )
    dataset.attrs["p_value_overall"] = sign_test(
        score.sel(metric="w2").values.ravel(), score.sel(metric="euclidean").values.ravel()
    )
    dataset.attrs["mean_difference_overall"] = float(difference.mean())
    # The pooled sign test drops ties and treats every (k, restart) pair as independent, which they are
    # not (restart r shares its seed across k): kept for comparison; _add_restart_comparison is the honest one.
    better = difference > 0 if higher_is_better(dataset) else difference < 0
    worse = difference < 0 if higher_is_better(dataset) else difference > 0
    dataset.attrs["w2_better"] = int(better.sum())
    dataset.attrs["euclidean_better"] = int(worse.sum())
    dataset.attrs["ties"] = int((difference == 0).sum())


def _add_restart_comparison(dataset: xr.Dataset) -> None:
    """Per restart, the normalised area under the primary score against parameters (``auc``, dims
    (metric, restart)); then W2 minus Euclidean over restarts: permutation p-value, effect size, CI."""
    name = dataset.attrs["primary_score"]
    auc = area_under_curve(dataset.params.values, dataset[name].transpose("metric", "restart", "k").values)
    dataset["auc"] = (
        ("metric", "restart"),
        auc,
        {"long_name": f"mean {name} over the parameter range (normalised area under the curve), per restart"},
    )
    comparison = paired_comparison(
        auc[list(dataset.metric.values).index("w2")], auc[list(dataset.metric.values).index("euclidean")]
    )
    dataset.attrs.update({f"auc_{key}": value for key, value in comparison.as_dict().items()})
    dataset.attrs["verdict"] = verdict(comparison, higher_is_better(dataset))


def neuron_compression(
    layers: xr.Dataset, gaussians: xr.Dataset, trained: Any, compress_params: Any, source: Path
) -> xr.Dataset:
    """The compression curves of the analysed layer, as the validated ``neurons.compress`` section asks.

    ``layers``: data/bootstrap.nc, made by the ``neurons.bootstrap`` section ``trained``; ``gaussians``:
    data/neurons.nc; ``source``: the `neuron-source` folder (read for ``source: pipeline``). A series
    task also gets the neurons' circle structure in the input plane.
    """
    means, covs = gaussians["mean"].values, gaussians.covariance.values
    settings = {
        "ks": list(range(1, (compress_params.k_max or len(means)) + 1)),
        "restarts": compress_params.restarts,
        "seed": compress_params.seed,
        "metrics": tuple(compress_params.metrics),
    }
    if trained.source == "pipeline":
        described = read_json(source / "source.json")
        test_x, test_y = pipeline_rows(json.loads(described["params"]), "test")
        evaluator = PipelineEvaluator(described["model"], load_state(source / "final"), trained.layer, test_x, test_y)
        curves = curves_of(evaluator, means, covs, kind="classification", **settings)
    else:
        task = task_of(trained)
        reference = tuple(layers[f"reference_{name}"].values for name in ("w_in", "b_in", "w_out", "b_out"))
        curves = compression_curves(
            means,
            covs,
            reference,
            activation=trained.activation,
            test_inputs=task.test_x,
            test_labels=task.test_y,
            kind=task.kind,
            neuron_layer="recurrent" if trained.architecture == "recurrent" else trained.neuron_layer,
            **settings,
        )
        if task.kind == "series" and trained.architecture == "feedforward":
            _add_circle(curves, layers, task.train_x, trained.activation, trained.neuron_layer)
    curves.attrs.update(
        {
            "dataset": layers.attrs["dataset"],
            "covariance_source": gaussians.attrs["covariance_source"],
            "neuron_layer": trained.neuron_layer,
        }
    )
    return curves


def _add_circle(
    curves: xr.Dataset, layers: xr.Dataset, train_inputs: np.ndarray, activation: str, neuron_layer: str = "hidden"
) -> None:
    """The neurons (reference and replicas) in the plane of their layer's inputs' first two principal axes:
    the data's for hidden neurons, the hidden activations' for read-out neurons."""
    reference_layers = tuple(layers[f"reference_{name}"].values for name in ("w_in", "b_in", "w_out", "b_out"))
    plane = input_plane(layer_inputs(reference_layers, train_inputs, activation, neuron_layer))
    weights = LAYER_ROWS[neuron_layer][0]
    reference = circle_structure(layers[f"reference_{weights}"].values, plane)
    replica_w = layers[f"replica_{weights}"].values
    replicas = circle_structure(replica_w.reshape(-1, replica_w.shape[-1]), plane)
    curves["circle_reference"] = (("neuron", "plane_axis"), reference["projections"])
    curves["circle_replicas"] = (
        ("replica", "neuron", "plane_axis"),
        replicas["projections"].reshape(*replica_w.shape[:2], 2),
    )
    curves.attrs.update(
        circle_radius_cv_reference=reference["radius_cv"],
        circle_largest_gap_degrees_reference=reference["largest_gap_degrees"],
        circle_radius_cv_replicas=replicas["radius_cv"],
    )
