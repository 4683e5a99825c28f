"""DVC stage `neuron-gaussians`: every neuron of the analysed layer (hidden or read-out) as a Gaussian
N(mean, covariance) over its (incoming weights, bias).

The mean is the reference neuron; the covariance comes from the aligned bootstrap replicas (plus a
ridge), from the sandwich estimator H^-1 G H^-1 / N of the reference, from a low-rank
variational posterior A A^T + diag(d^2) (its own mean and factors [A | diag(d)] stored beside), or
from Algorithm 1, a Bayesian student trained on answers sampled from the reference's p(y | x)
(its own mean stored beside).
Output data/neurons.nc.
"""

from pathlib import Path

from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.files import open_netcdf, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.params import NeuronGaussiansParams
from ibpipe.neurons.sources import gaussians_dataset
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    out: Path = Path("data/neurons.nc"),
) -> None:
    (gaussians_params,) = load_sections(params_file, NeuronGaussiansParams)
    layers = open_netcdf(bootstrap)
    dataset = gaussians_dataset(layers, gaussians_params)
    dataset.attrs[PARAMS_ATTR] = sections_json(gaussians_params, upstream=layers.attrs[PARAMS_ATTR])
    write_metrics(out, dataset)


if __name__ == "__main__":
    run_stage(main)
