"""DVC stage `neuron-gaussians`: every hidden neuron as a Gaussian N(mean, covariance) over its
(incoming weights, bias).

The mean is the reference neuron; the covariance comes from the aligned bootstrap replicas (plus a
ridge) or from the sandwich estimator H^-1 G H^-1 / N of the reference. Output data/neurons.nc.
"""

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.neurons import NeuronGaussiansParams, NeuronsBootstrapParams
from ibpipe.data.datasets import load_dataset
from ibpipe.io.files import open_netcdf, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.covariances import neuron_gaussians, sandwich_from_moments
from ibpipe.neurons.network import HiddenLayerNet, hidden_sandwich_terms


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    out: Path = Path("data/neurons.nc"),
) -> None:
    (choice,) = load_sections(params_file, NeuronGaussiansParams)
    layers = open_netcdf(bootstrap)
    reference_in = np.concatenate([layers.reference_w_in.values, layers.reference_b_in.values[:, None]], axis=1)
    if choice.covariance == "bootstrap":
        replicas_in = np.concatenate([layers.replica_w_in.values, layers.replica_b_in.values[..., None]], axis=2)
        means, covs = neuron_gaussians(reference_in, replicas_in, choice.ridge)
    else:
        trained = NeuronsBootstrapParams(**json.loads(layers.attrs["params"])[NeuronsBootstrapParams.section])
        data = load_dataset(trained.dataset, trained.test_fraction, trained.split_seed)
        inputs = data.inputs.reshape(len(data.inputs), -1)[data.train_rows].astype(np.float64)
        arrays = (layers[f"reference_{name}"].values.astype(np.float64) for name in ("w_in", "b_in", "w_out", "b_out"))
        net = HiddenLayerNet.from_arrays(*arrays, activation=trained.activation)
        second_moments, hessians = hidden_sandwich_terms(net, inputs, data.labels[data.train_rows])
        means, covs = reference_in, sandwich_from_moments(second_moments, hessians, len(inputs), choice.damping)
    dataset = xr.Dataset(
        {"mean": (("neuron", "coordinate"), means), "covariance": (("neuron", "coordinate", "coordinate_"), covs)},
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
