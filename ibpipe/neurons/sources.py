"""Neuron Gaussians from a bootstrap file's layers, by covariance source: the one place the
`neuron-gaussians` and `compare-covariances` stages take them from.

``bootstrap``: aligned replicas plus a ridge (``ibpipe.neurons.covariances.neuron_gaussians``);
``sandwich``: H^-1 G H^-1 / N of the reference; ``variational``: the low-rank posterior
A A^T + diag(d^2) (``ibpipe.neurons.variational``). The mean is always the reference neuron, so
that the three describe the same neurons; the variational posterior's own mean and its factors
[A | diag(d)] come back as extra variables.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ibpipe.errors import ParamsError
from ibpipe.neurons.covariances import neuron_gaussians, sandwich_from_moments
from ibpipe.neurons.network import HiddenLayerNet, hidden_sandwich_terms
from ibpipe.neurons.params import NeuronGaussiansParams, NeuronsBootstrapParams
from ibpipe.neurons.tasks import task_of
from ibpipe.neurons.variational import fit_lowrank_posterior, hidden_layer_log_likelihood
from ibpipe.schema import validate_section

LAYERS = ("w_in", "b_in", "w_out", "b_out")


def gaussians_from(layers: xr.Dataset, gaussians_params: NeuronGaussiansParams, covariance: str | None = None):
    """(means (h, p), covariances (h, p, p), extra variables {name: (dims, values)}) for ``covariance``
    (default ``gaussians_params.covariance``) of the layers of data/bootstrap.nc."""
    covariance = covariance or gaussians_params.covariance
    reference_in = np.concatenate([layers.reference_w_in.values, layers.reference_b_in.values[:, None]], axis=1)
    if covariance == "bootstrap":
        replicas_in = np.concatenate([layers.replica_w_in.values, layers.replica_b_in.values[..., None]], axis=2)
        means, covs = neuron_gaussians(reference_in, replicas_in, gaussians_params.ridge)
        return means, covs, {}
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
    if covariance == "sandwich":
        net = HiddenLayerNet.from_arrays(*reference, activation=trained.activation)
        inputs = task.train_x.astype(np.float64)
        second_moments, hessians = hidden_sandwich_terms(net, inputs, task.train_y, loss=task.loss)
        return reference_in, sandwich_from_moments(second_moments, hessians, len(inputs), gaussians_params.damping), {}
    log_likelihood = hidden_layer_log_likelihood(task.train_x, task.train_y, reference, trained.activation, task.loss)
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
        {"covariance_source": gaussians_params.covariance, "coordinates": "incoming weights, then bias"}
    )
    return dataset
