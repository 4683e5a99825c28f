"""DVC stage `train`: train the network and store its weights at every epoch, with training curves."""

from pathlib import Path

import torch
from tqdm import tqdm

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.models import build_model, load_checkpoint, model_spec
from ibpipe.stage import run_stage
from ibpipe.training import train_epochs


def main(params_file: Path = Path("params.yaml"), out: Path = Path("data/weights.zarr")) -> None:
    params = load_params(params_file)
    net, fit = params.model, params.train
    torch.manual_seed(fit.seed)
    torch.set_num_threads(fit.torch_threads)
    dataset = params.dataset.load()
    spec = model_spec(net.arch, dataset.input_shape, dataset.n_classes, net.widths, net.activation, net.factory, net.kwargs, net.layers, net.softmax)
    model = build_model(spec)
    if net.checkpoint:
        load_checkpoint(model, net.checkpoint)
    inputs, labels = torch.from_numpy(dataset.inputs), torch.from_numpy(dataset.labels)
    train_rows, test_rows = torch.from_numpy(dataset.train_rows), torch.from_numpy(dataset.test_rows)
    records = train_epochs(
        model,
        train=(inputs[train_rows], labels[train_rows]),
        test=(inputs[test_rows], labels[test_rows]),
        epochs=fit.epochs,
        batch_size=fit.batch_size,
        learning_rate=fit.learning_rate,
        seed=fit.seed,
    )
    progress = tqdm(records, total=fit.epochs + 1, desc="train", unit="epoch", mininterval=1.0)
    store.write_weights(out, progress, fit.epochs + 1, {"model": spec, "params": params.to_json()})


if __name__ == "__main__":
    run_stage(main)
