"""DVC stage `neuron-source`: the pipeline network whose layer the neuron experiment analyses, or nothing.

Its own stage so that `bootstrap` depends on data/weights.zarr only through it: with
`neurons.bootstrap.source: own` the output is one small JSON that comes out byte-identical
whatever the weights hold, so retraining the 12-bit net reruns this cheap stage and nothing after
it. With `source: pipeline` it copies the final and the initial weights (epoch 0) and the model
spec and params stored with them. Output: a folder with ``source.json`` (and ``final/``,
``initial/`` of ``<parameter>.npy``).
"""

from pathlib import Path

from ibpipe.io.files import atomic_path, write_json
from ibpipe.io.stage import run_stage
from ibpipe.neurons.params import NeuronsBootstrapParams
from ibpipe.neurons.pipeline_source import copy_pipeline_source
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    weights: Path = Path("data/weights.zarr"),
    out: Path = Path("data/neuron_source"),
) -> None:
    (bootstrap_params,) = load_sections(params_file, NeuronsBootstrapParams)
    with atomic_path(out) as temporary:
        temporary.mkdir()
        if bootstrap_params.source == "pipeline":
            copy_pipeline_source(temporary, weights, bootstrap_params.layer)
        else:
            write_json(temporary / "source.json", {"source": bootstrap_params.source})


if __name__ == "__main__":
    run_stage(main)
