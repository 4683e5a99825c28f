"""The dump-activations stage's work: rebuild the net at every selected epoch and store its layers' activations.

Works shard by shard (a slab of epochs x a chunk of samples), so memory follows
dump.epochs_per_shard x dump.samples_per_chunk, not the dataset size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import zarr

from ibpipe.data.datasets import Dataset
from ibpipe.io.attrs import MODEL_ATTR, NOISE_STD_ATTR, PARAMS_ATTR, TRIALS_ATTR
from ibpipe.io.layers import (
    LayerStoreWriter,
    create_pre_noise_arrays,
    trial_prefix,
    write_layer_store_header,
    write_splits,
)
from ibpipe.io.weights import open_weights_attrs, read_weights, stored_trials
from ibpipe.names import OUTPUT_LAYER
from ibpipe.nn.architectures import build_model
from ibpipe.nn.layers import layer_shapes, record_pre_noise_slab, record_slab
from ibpipe.progress import progress as report


def dump_activations(
    root: zarr.Group, weights: str, dataset: Dataset, *, epochs: np.ndarray, dump: Any, params: str
) -> None:
    """Write the activations store ``root``: every trial of ``weights`` at ``epochs`` on ``dataset``'s measured rows.

    ``dump`` is the validated ``dump`` section; ``params`` the JSON stored in the root attrs.
    """
    rows = dataset.measured_rows
    inputs = torch.from_numpy(dataset.inputs[rows])
    spec = open_weights_attrs(weights)[MODEL_ATTR]
    model = build_model(spec)
    shapes = layer_shapes(model, inputs)
    noise_std = float(spec.get("noise_std", 0.0))
    # A noisy network also stores noiseless outputs of repeated noisy passes (sample propagation);
    # a deterministic one writes exactly what it always did.
    noisy = {NOISE_STD_ATTR: noise_std} if noise_std > 0 else {}
    trials = stored_trials(weights)
    write_layer_store_header(
        root,
        epochs=epochs,
        sample_rows=rows,
        inputs=dataset.inputs[rows],
        labels=dataset.labels[rows],
        shapes=shapes,
        attrs={PARAMS_ATTR: params, TRIALS_ATTR: trials, **noisy},
    )
    write_splits(root, dataset.measured_splits)
    for trial in range(trials):
        _dump_trial(root, weights, trial, model=model, inputs=inputs, shapes=shapes, epochs=epochs, dump=dump)


def _dump_trial(root, weights, trial, *, model, inputs, shapes, epochs, dump) -> None:
    """Write one trial's layer groups (``trial_prefix(trial)``), shard by shard. A noisy network
    (``noise_std`` in the root attrs) also gets its ``pre_noise`` draws."""
    prefix = trial_prefix(trial)
    noisy = NOISE_STD_ATTR in root.attrs
    writer = LayerStoreWriter(
        root,
        "activation",
        shapes=shapes,
        epochs=epochs,
        n_samples=len(inputs),
        epochs_per_shard=dump.epochs_per_shard,
        dtype="float32",
        samples_per_chunk=dump.samples_per_chunk,
        prefix=prefix,
    )
    slabs, chunks = list(writer.slabs()), writer.sample_chunks()
    pre_noise = {}
    if noisy:
        pre_noise = create_pre_noise_arrays(
            root,
            widths={layer: int(np.prod(shape)) for layer, shape in shapes.items() if layer != OUTPUT_LAYER},
            n_epochs=len(epochs),
            n_samples=len(inputs),
            n_draws=dump.noise_draws,
            epochs_per_shard=dump.epochs_per_shard,
            samples_per_chunk=dump.samples_per_chunk,
            prefix=prefix,
        )
    with report(total=len(slabs) * len(chunks), desc=f"dump-activations trial {trial}", unit="shard") as progress:
        for slab in slabs:
            slab_weights = list(read_weights(weights, epochs[slab], trial))
            for samples in chunks:
                if noisy:  # the noise of the stored T is reproducible too
                    torch.manual_seed(slab.start * 1_000_003 + samples.start + trial * 7_919)
                writer.write(slab, record_slab(model, slab_weights, inputs[samples]), samples)
                if pre_noise:
                    draws = record_pre_noise_slab(
                        model, slab_weights, inputs[samples], dump.noise_draws, samples.start + 1
                    )
                    for layer, values in draws.items():
                        pre_noise[layer][slab, samples] = values
                progress.update()
