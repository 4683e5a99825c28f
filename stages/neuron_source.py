"""DVC stage `neuron-source`: the pipeline network whose layer the neuron experiment analyses, or nothing.

Its own stage so that `bootstrap` depends on data/weights.zarr only through it: with
`neurons.bootstrap.source: own` the output is one small JSON that comes out byte-identical
whatever the weights hold, so retraining the 12-bit net reruns this cheap stage and nothing after
it. With `source: pipeline` it copies the final and the initial weights (epoch 0) and the model
spec and params stored with them. Output: a folder with ``source.json`` (and ``final/``,
``initial/`` of ``<parameter>.npy``).
"""

from pathlib import Path

import numpy as np
import zarr

from ibpipe.config.checks import load_sections
from ibpipe.config.neurons import NeuronsBootstrapParams
from ibpipe.errors import MissingFileError
from ibpipe.io.files import atomic_path, write_json
from ibpipe.io.stage import run_stage
from ibpipe.io.weights import open_weights_attrs, read_weights


def main(
    params_file: Path = Path("params.yaml"),
    weights: Path = Path("data/weights.zarr"),
    out: Path = Path("data/neuron_source"),
) -> None:
    (bootstrap_params,) = load_sections(params_file, NeuronsBootstrapParams)
    with atomic_path(out) as temporary:
        temporary.mkdir()
        if bootstrap_params.source != "pipeline":
            write_json(temporary / "source.json", {"source": bootstrap_params.source})
            return
        if not weights.exists():
            raise MissingFileError(f"neurons.bootstrap.source = pipeline needs {weights}; run `dvc repro train` first")
        attrs = open_weights_attrs(weights)
        n_epochs = int(zarr.open_group(weights, mode="r")["epoch"].shape[0])
        (_, initial), (last, final) = read_weights(weights, [0, n_epochs - 1])
        save_state(temporary / "initial", initial)
        save_state(temporary / "final", final)
        write_json(
            temporary / "source.json",
            {
                "source": "pipeline",
                "layer": bootstrap_params.layer,
                "epoch": last,
                "model": attrs["model"],
                "params": attrs["params"],
            },
        )


def save_state(folder: Path, state: dict) -> None:
    """One ``<parameter>.npy`` per state-dict entry (np.save is byte-stable; ``ibpipe.neurons.pipeline.load_state``)."""
    folder.mkdir()
    for name, value in state.items():
        np.save(folder / f"{name}.npy", np.asarray(value))


if __name__ == "__main__":
    run_stage(main)
