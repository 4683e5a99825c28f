"""DVC stage `train`: train the network and store its weights at every epoch, with training curves."""

from pathlib import Path

import torch
from tqdm import tqdm

from ibpipe.config.dataset import DatasetParams
from ibpipe.config.model import ModelParams
from ibpipe.config.train import TrainParams
from ibpipe.data.datasets import load_dataset
from ibpipe.io.stage import run_stage
from ibpipe.io.weights import open_history, write_weights
from ibpipe.nn.architectures import build_model, load_checkpoint, model_spec
from ibpipe.nn.trials import train_trials
from ibpipe.schema import load_sections, sections_json
from ibpipe.training_log import write_training_log


def main(
    params_file: Path = Path("params.yaml"), out: str = "data/weights.zarr", live: Path = Path("reports/training")
) -> None:
    """``out`` may be an fsspec URL (s3://bucket/run/weights.zarr) as well as a path; ``live`` is DVCLive's folder."""
    data, net, fit = load_sections(params_file, DatasetParams, ModelParams, TrainParams)
    torch.set_num_threads(fit.torch_threads)
    # measure_on only chooses the measured rows; training never reads it, so it is not a train dep
    dataset = load_dataset(
        data.name, data.test_fraction, data.split_seed, root=data.root, download=data.download, factory=data.factory
    )
    spec = model_spec(
        net.arch,
        dataset.input_shape,
        dataset.n_classes,
        net.widths,
        net.activation,
        net.factory,
        net.kwargs,
        net.layers,
        net.softmax,
        net.noise_std,
        net.quantize,
    )
    prepare = (lambda model: load_checkpoint(model, net.checkpoint)) if net.checkpoint else None
    inputs, labels = torch.from_numpy(dataset.inputs), torch.from_numpy(dataset.labels)
    train_rows, test_rows = torch.from_numpy(dataset.train_rows), torch.from_numpy(dataset.test_rows)
    streams = train_trials(
        lambda: build_model(spec),
        train=(inputs[train_rows], labels[train_rows]),
        test=(inputs[test_rows], labels[test_rows]),
        trials=range(fit.trials),
        epochs=fit.epochs,
        batch_size=fit.batch_size,
        learning_rate=fit.learning_rate,
        seed=fit.seed,
        prepare=prepare,
        processes=fit.processes,
    )
    progress = (
        (trials, tqdm(records, total=fit.epochs + 1, desc=f"train trials {trials.start}..{trials.stop - 1}"))
        for trials, records in streams
    )
    attrs = {"model": spec, "params": sections_json(data, net, fit)}
    write_weights(out, progress, fit.epochs + 1, fit.trials, attrs)
    # DVCLive logs the mean curve over trials (the per-trial curves stay in weights.zarr/history)
    write_training_log(live, open_history(out).mean("trial"))


if __name__ == "__main__":
    run_stage(main)
