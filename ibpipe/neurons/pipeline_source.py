"""The `neuron-source` stage's work: copy what the neuron experiment needs of the pipeline's trained network.

Kept apart from ``ibpipe.neurons.pipeline`` (which trains replicas, so imports torch and the models) so that
the cheap `neuron-source` stage depends only on the stores it copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import zarr

from ibpipe.errors import MissingFileError
from ibpipe.io.attrs import MODEL_ATTR, PARAMS_ATTR
from ibpipe.io.files import write_json
from ibpipe.io.weights import open_weights_attrs, read_weights


def save_state(folder: Path, state: Mapping[str, np.ndarray]) -> None:
    """One ``<parameter>.npy`` per state-dict entry (np.save is byte-stable), read back by
    ``ibpipe.neurons.pipeline.load_state``."""
    folder.mkdir()
    for name, value in state.items():
        np.save(folder / f"{name}.npy", np.asarray(value))


def copy_pipeline_source(folder: Path, weights: Path, layer: str) -> None:
    """Into ``folder``: the final and the initial (epoch 0) weights of ``weights`` (``final/``, ``initial/``)
    and ``source.json`` with the analysed ``layer``, the last epoch, the model spec and the params stored
    with the weights."""
    if not weights.exists():
        raise MissingFileError(f"neurons.bootstrap.source = pipeline needs {weights}; run `dvc repro train` first")
    attrs = open_weights_attrs(weights)
    n_epochs = int(zarr.open_group(weights, mode="r")["epoch"].shape[0])
    (_, initial), (last, final) = read_weights(weights, [0, n_epochs - 1])
    save_state(folder / "initial", initial)
    save_state(folder / "final", final)
    described = {"source": "pipeline", "layer": layer, "epoch": last}
    write_json(folder / "source.json", {**described, "model": attrs[MODEL_ATTR], "params": attrs[PARAMS_ATTR]})
