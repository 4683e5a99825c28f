"""DVC stage `dump-activations`: rebuild the net at every selected epoch and store its layers' activations.

Works shard by shard (a slab of epochs x a chunk of samples), so memory follows
dump.epochs_per_shard x dump.samples_per_chunk, not the dataset size.
"""

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ibpipe.config.dataset import DatasetParams
from ibpipe.config.dump import DumpParams
from ibpipe.data.datasets import load_dataset
from ibpipe.io.files import read_json
from ibpipe.io.layers import (
    NOISE_STD_ATTR,
    TRIALS_ATTR,
    LayerStoreWriter,
    create_pre_noise_arrays,
    trial_prefix,
    write_layer_store_header,
    write_splits,
)
from ibpipe.io.stage import run_stage
from ibpipe.io.stores import new_store
from ibpipe.io.weights import open_weights_attrs, read_weights, stored_trials
from ibpipe.names import OUTPUT_LAYER
from ibpipe.nn.architectures import build_model
from ibpipe.nn.layers import layer_shapes, record_pre_noise_slab, record_slab
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    weights: str = "data/weights.zarr",
    selection: Path = Path("data/selection.json"),
    out: str = "data/activations.zarr",
) -> None:
    data, dump = load_sections(params_file, DatasetParams, DumpParams)
    torch.set_num_threads(dump.torch_threads)
    epochs = np.asarray(read_json(selection)["epochs"], dtype=np.int64)
    dataset = load_dataset(**data.to_dict())
    rows = dataset.measured_rows
    inputs = torch.from_numpy(dataset.inputs[rows])
    trained = open_weights_attrs(weights)
    model = build_model(trained["model"])
    shapes = layer_shapes(model, inputs)
    noise_std = float(trained["model"].get("noise_std", 0.0))
    # A noisy network also stores noiseless outputs of repeated noisy passes (sample propagation);
    # a deterministic one writes exactly what it always did.
    noisy = {NOISE_STD_ATTR: noise_std} if noise_std > 0 else {}
    trials = stored_trials(weights)
    # out may be an fsspec URL (s3://bucket/run/activations.zarr) for workers that share no disk
    with new_store(out) as root:
        write_layer_store_header(
            root,
            epochs,
            rows,
            dataset.inputs[rows],
            dataset.labels[rows],
            shapes,
            {"params": sections_json(data, dump, upstream=trained.get("params")), TRIALS_ATTR: trials, **noisy},
        )
        write_splits(root, dataset.measured_splits)
        for trial in range(trials):
            _dump_trial(root, weights, trial, model, inputs, epochs, shapes, dump, noisy)


def _dump_trial(root, weights, trial, model, inputs, epochs, shapes, dump, noisy) -> None:
    """Write one trial's layer groups (``trial_prefix(trial)``), shard by shard."""
    prefix = trial_prefix(trial)
    writer = LayerStoreWriter(
        root,
        "activation",
        shapes,
        epochs,
        len(inputs),
        dump.epochs_per_shard,
        "float32",
        dump.samples_per_chunk,
        prefix,
    )
    slabs, chunks = list(writer.slabs()), writer.sample_chunks()
    pre_noise = {}
    if noisy:
        hidden = {layer: int(np.prod(shape)) for layer, shape in shapes.items() if layer != OUTPUT_LAYER}
        pre_noise = create_pre_noise_arrays(
            root,
            hidden,
            len(epochs),
            len(inputs),
            dump.noise_draws,
            dump.epochs_per_shard,
            dump.samples_per_chunk,
            prefix,
        )
    with tqdm(total=len(slabs) * len(chunks), desc=f"dump-activations trial {trial}", unit="shard") as progress:
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


if __name__ == "__main__":
    run_stage(main)
