"""DVC stage `train`: train the network and store its weights at every epoch, with training curves."""

from pathlib import Path

import torch

from ibpipe.config.dataset import DatasetParams
from ibpipe.config.model import ModelParams
from ibpipe.config.train import TrainParams
from ibpipe.data.datasets import load_dataset
from ibpipe.infoplane.train import train_into_store
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections, sections_json


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
    train_into_store(dataset, net, fit, out=out, live=live, params=sections_json(data, net, fit))


if __name__ == "__main__":
    run_stage(main, outputs=("out", "live"))
