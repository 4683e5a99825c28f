"""DVC stage `bootstrap`: a reference network and B replicas on bootstrap resamples, aligned to it
(``ibpipe.neurons.replica_sets``).

`neurons.bootstrap.source: own`: a one-hidden-layer net on `dataset` (classification, or the gait
series forecast). `pipeline`: the layer `layer` of the pipeline's trained network (from
data/neuron_source, written by `neuron-source`), its replicas trained like the pipeline's.
Output data/bootstrap.nc: the reference's layers, the aligned replicas' layers (dim replica) and the
alignment quality per replica and neuron.
"""

from pathlib import Path

from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.files import write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.params import NeuronsBootstrapParams
from ibpipe.neurons.replica_sets import replica_set
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    source: Path = Path("data/neuron_source"),
    out: Path = Path("data/bootstrap.nc"),
) -> None:
    (bootstrap_params,) = load_sections(params_file, NeuronsBootstrapParams)
    dataset = replica_set(bootstrap_params, source)
    dataset.attrs[PARAMS_ATTR] = sections_json(bootstrap_params)
    write_metrics(out, dataset)


if __name__ == "__main__":
    run_stage(main)
