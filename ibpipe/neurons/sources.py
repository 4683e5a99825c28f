"""Neuron Gaussians from a bootstrap file's layers, by covariance source: the one place the
`neuron-gaussians` and `compare-covariances` stages take them from.

``bootstrap``: aligned replicas plus a ridge (``ibpipe.neurons.covariances.neuron_gaussians``);
``sandwich``: H^-1 G H^-1 / N of the reference; ``variational``: the low-rank posterior
A A^T + diag(d^2) (``ibpipe.neurons.variational``); ``teacher``: Algorithm 1, the posterior of a
Bayesian student trained on answers sampled from the reference's p(y | x) (``ibpipe.neurons.teacher``).
The neurons are the hidden or the read-out units (``neurons.bootstrap.neuron_layer``,
``ibpipe.neurons.layers``). The mean is always the reference neuron, so
that the three describe the same neurons; the variational posterior's own mean and its factors
[A | diag(d)] come back as extra variables.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ibpipe.errors import ParamsError
from ibpipe.neurons.covariances import neuron_gaussians, sandwich_from_moments
from ibpipe.neurons.layers import layer_view, reference_rows, replica_rows
from ibpipe.neurons.network import layer_sandwich_terms
from ibpipe.neurons.params import NeuronGaussiansParams, NeuronsBootstrapParams
from ibpipe.neurons.tasks import task_of
from ibpipe.neurons.teacher import teacher_student_posterior
from ibpipe.neurons.variational import fit_lowrank_posterior, hidden_layer_log_likelihood
from ibpipe.schema import validate_section

LAYERS = ("w_in", "b_in", "w_out", "b_out")


def gaussians_from(layers: xr.Dataset, gaussians_params: NeuronGaussiansParams, covariance: str | None = None):
    """(means (h, p), covariances (h, p, p), extra variables {name: (dims, values)}) for ``covariance``
    (default ``gaussians_params.covariance``) of the layers of data/bootstrap.nc; the neurons are those of
    the layer its ``neurons.bootstrap.neuron_layer`` names (hidden or output)."""
    covariance = covariance or gaussians_params.covariance
    neuron_layer = layers.attrs.get("neuron_layer", "hidden")
    reference_in = reference_rows(layers, neuron_layer)
    if covariance == "bootstrap":
        means, covs = neuron_gaussians(reference_in, replica_rows(layers, neuron_layer), gaussians_params.ridge)
        return means, covs, {}
    if layers.attrs.get("architecture", "feedforward") == "recurrent":
        raise ParamsError(
            f"neurons.gaussians.covariance = {covariance}: a recurrent net's neurons support covariance: bootstrap "
            "(their likelihood is not linear in one neuron's row through time)"
        )
    if layers.attrs.get("source", "own") != "own":
        raise ParamsError(
            f"neurons.gaussians.covariance = {covariance} needs neurons.bootstrap.source = own "
            "(a one-hidden-layer net); a pipeline layer supports covariance: bootstrap"
        )
    trained = validate_section(
        NeuronsBootstrapParams, json.loads(layers.attrs["params"])[NeuronsBootstrapParams.section]
    )
    task = task_of(trained)
    reference = tuple(layers[f"reference_{name}"].values.astype(np.float64) for name in LAYERS)
    inputs = task.train_x.astype(np.float64)
    if covariance == "sandwich":
        second_moments, hessians = layer_sandwich_terms(
            reference, inputs, task.train_y, trained.activation, neuron_layer, loss=task.loss
        )
        return reference_in, sandwich_from_moments(second_moments, hessians, len(inputs), gaussians_params.damping), {}
    if covariance == "teacher":
        view = layer_view(reference, inputs, trained.activation, neuron_layer)
        means, covs, _ = teacher_student_posterior(view, reference_in, task.train_y, task.loss, gaussians_params)
        return reference_in, covs, {"posterior_mean": (("neuron", "coordinate"), means)}
    log_likelihood = hidden_layer_log_likelihood(
        task.train_x, task.train_y, reference, trained.activation, task.loss, neuron_layer
    )
    posterior = fit_lowrank_posterior(
        log_likelihood,
        reference_in,
        gaussians_params.prior_scale,
        gaussians_params.rank,
        gaussians_params.steps,
        gaussians_params.samples,
        gaussians_params.learning_rate,
        gaussians_params.seed,
    )
    extra = {
        "posterior_mean": (("neuron", "coordinate"), posterior.means),
        "factor": (("neuron", "coordinate", "factor_column"), posterior.lowrank_factors()),
    }
    return reference_in, posterior.covariances, extra


def gaussians_dataset(layers: xr.Dataset, gaussians_params: NeuronGaussiansParams) -> xr.Dataset:
    """data/neurons.nc: every hidden neuron's mean (neuron, coordinate) and covariance (neuron, coordinate,
    coordinate_) over its (incoming weights, bias), from ``gaussians_params.covariance``, with that source's
    extra variables."""
    means, covs, variables = gaussians_from(layers, gaussians_params)
    variables.update(
        {"mean": (("neuron", "coordinate"), means), "covariance": (("neuron", "coordinate", "coordinate_"), covs)}
    )
    coordinates = np.arange(means.shape[1])
    dataset = xr.Dataset(
        variables, coords={"neuron": np.arange(len(means)), "coordinate": coordinates, "coordinate_": coordinates}
    )
    dataset.attrs.update(
        {
            "covariance_source": gaussians_params.covariance,
            "coordinates": "incoming weights, then bias",
            "neuron_layer": layers.attrs.get("neuron_layer", "hidden"),
        }
    )
    return dataset
