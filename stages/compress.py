"""DVC stage `compress`: cluster the neurons for k = 1..k_max under each metric, merge, and
measure the test score (accuracy, or forecast MSE) against parameters.

Output reports/compression.nc (scores (metric, k, restart), params (k), per-restart areas under the
curve, sign tests per k, the permutation test of W2 against Euclidean and its verdict) and
reports/compression.json for `dvc metrics show`: the verdict's code.
"""

import json
from pathlib import Path

from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.files import open_netcdf, write_json, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.compression import neuron_compression
from ibpipe.neurons.compression_report import compression_metrics
from ibpipe.neurons.params import NeuronsBootstrapParams, NeuronsCompressParams
from ibpipe.schema import load_sections, sections_json, validate_section


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    neurons: Path = Path("data/neurons.nc"),
    source: Path = Path("data/neuron_source"),
    out: Path = Path("reports/compression.nc"),
    summary: Path = Path("reports/compression.json"),
) -> None:
    (compress_params,) = load_sections(params_file, NeuronsCompressParams)
    layers, gaussians = open_netcdf(bootstrap), open_netcdf(neurons)
    upstream = gaussians.attrs[PARAMS_ATTR]
    trained = validate_section(NeuronsBootstrapParams, json.loads(upstream)[NeuronsBootstrapParams.section])
    curves = neuron_compression(layers, gaussians, trained, compress_params, source)
    curves.attrs[PARAMS_ATTR] = sections_json(compress_params, upstream=upstream)
    write_metrics(out, curves)
    write_json(summary, compression_metrics(curves))


if __name__ == "__main__":
    run_stage(main, outputs=("out", "summary"))
