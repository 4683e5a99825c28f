"""DVC stage `neuron-gaussians`: every hidden neuron as a Gaussian N(mean, covariance) over its
(incoming weights, bias).

The mean is the reference neuron (for `variational` the posterior's own mean is stored beside it); the
covariance comes from the aligned bootstrap replicas (plus a ridge), from the sandwich estimator
H^-1 G H^-1 / N of the reference, or from a low-rank variational posterior A A^T + diag(d^2)
(whose factors [A | diag(d)] are stored too). Output data/neurons.nc.
"""

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.neurons import NeuronGaussiansParams, NeuronsBootstrapParams
from ibpipe.errors import ParamsError
from ibpipe.io.files import open_netcdf, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.covariances import neuron_gaussians, sandwich_from_moments
from ibpipe.neurons.network import HiddenLayerNet, hidden_sandwich_terms
from ibpipe.neurons.tasks import load_task
from ibpipe.neurons.variational import fit_lowrank_posterior, hidden_layer_log_likelihood

LAYERS = ("w_in", "b_in", "w_out", "b_out")


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    out: Path = Path("data/neurons.nc"),
) -> None:
    (choice,) = load_sections(params_file, NeuronGaussiansParams)
    layers = open_netcdf(bootstrap)
    reference_in = np.concatenate([layers.reference_w_in.values, layers.reference_b_in.values[:, None]], axis=1)
    variables = {}
    if choice.covariance == "bootstrap":
        replicas_in = np.concatenate([layers.replica_w_in.values, layers.replica_b_in.values[..., None]], axis=2)
        means, covs = neuron_gaussians(reference_in, replicas_in, choice.ridge)
    else:
        if layers.attrs.get("source", "own") != "own":
            raise ParamsError(
                f"neurons.gaussians.covariance = {choice.covariance} needs neurons.bootstrap.source = own "
                "(a one-hidden-layer net); a pipeline layer supports covariance: bootstrap"
            )
        trained = NeuronsBootstrapParams(**json.loads(layers.attrs["params"])[NeuronsBootstrapParams.section])
        task = load_task(
            trained.dataset,
            trained.test_fraction,
            trained.split_seed,
            trained.window,
            trained.horizon,
            trained.series_length,
        )
        reference = tuple(layers[f"reference_{name}"].values.astype(np.float64) for name in LAYERS)
        if choice.covariance == "sandwich":
            net = HiddenLayerNet.from_arrays(*reference, activation=trained.activation)
            inputs = task.train_x.astype(np.float64)
            second_moments, hessians = hidden_sandwich_terms(net, inputs, task.train_y, loss=task.loss)
            means, covs = reference_in, sandwich_from_moments(second_moments, hessians, len(inputs), choice.damping)
        else:
            log_likelihood = hidden_layer_log_likelihood(
                task.train_x, task.train_y, reference, trained.activation, task.loss
            )
            posterior = fit_lowrank_posterior(
                log_likelihood,
                reference_in,
                choice.prior_scale,
                choice.rank,
                choice.steps,
                choice.samples,
                choice.learning_rate,
                choice.seed,
            )
            # The mean stays the reference neuron, as for the other sources, so that the three
            # covariances describe the same neurons; the posterior's own mean is kept beside it.
            means, covs = reference_in, posterior.covariances
            variables["posterior_mean"] = (("neuron", "coordinate"), posterior.means)
            variables["factor"] = (("neuron", "coordinate", "factor_column"), posterior.lowrank_factors())
    variables.update(
        {"mean": (("neuron", "coordinate"), means), "covariance": (("neuron", "coordinate", "coordinate_"), covs)}
    )
    dataset = xr.Dataset(
        variables,
        coords={
            "neuron": np.arange(len(means)),
            "coordinate": np.arange(means.shape[1]),
            "coordinate_": np.arange(means.shape[1]),
        },
    )
    dataset.attrs.update(
        {
            "covariance_source": choice.covariance,
            "coordinates": "incoming weights, then bias",
            "params": sections_json(choice, upstream=layers.attrs["params"]),
        }
    )
    write_metrics(out, dataset)


if __name__ == "__main__":
    run_stage(main)
