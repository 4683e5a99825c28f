"""Your own training script as the first stage of a DVC pipeline whose later stages are ibpipe's.

The model, data, optimiser (SGD with momentum) and loop are the script's own; ``ibpipe.Recorder`` writes
run/weights.zarr and run/activations.zarr, the stores ibpipe's reduce, estimate and plot stages read
(see dvc.yaml beside this file, and docs/how-to/own-model-pipeline.md). Its settings are in
train_params.yaml, so editing one reruns this stage and everything after it, and nothing else.
"""

import json
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

import ibpipe


def load_data(rows: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Eight Gaussian features; the class is whether x0 + x1 * x2 is positive."""
    generator = np.random.default_rng(seed)
    inputs = generator.normal(size=(rows, 8)).astype(np.float32)
    return inputs, (inputs[:, 0] + inputs[:, 1] * inputs[:, 2] > 0).astype(np.int64)


def build_model(hidden: int = 8) -> nn.Module:
    """The network; the Recorder is given this factory, so ibpipe's stages can rebuild it from the weights."""
    return nn.Sequential(nn.Linear(8, hidden), nn.Tanh(), nn.Linear(hidden, 4), nn.Tanh(), nn.Linear(4, 2))


def main(params_file: str = "train_params.yaml", store: str = "run") -> None:
    settings = yaml.safe_load(Path(params_file).read_text())
    torch.manual_seed(settings["seed"])
    x, y = load_data()
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)
    train, test = torch.arange(len(x)) % 4 != 0, torch.arange(len(x)) % 4 == 0
    model = build_model(settings["hidden"])
    optimiser = torch.optim.SGD(model.parameters(), lr=settings["learning_rate"], momentum=0.9)
    recorder = ibpipe.Recorder(
        model,
        layers=["1", "3", "4"],  # the two Tanh layers and the logits
        inputs=inputs,
        labels=labels,
        store=store,
        schedule=settings["schedule"],
        factory="train:build_model",
        factory_kwargs={"hidden": settings["hidden"]},
    )
    with recorder:
        for epoch in range(settings["epochs"] + 1):
            if epoch > 0:  # epoch 0 is the initial network
                model.train()
                for batch in torch.randperm(int(train.sum())).split(settings["batch_size"]):
                    rows = torch.nonzero(train)[batch, 0]
                    optimiser.zero_grad()
                    nn.functional.cross_entropy(model(inputs[rows]), labels[rows]).backward()
                    optimiser.step()
            recorder.step(epoch, **curves(model, inputs, labels, train, test))
    # What the plot stage shows as the measured epochs.
    selection = {"method": f"recorded ({settings['schedule']})", "epochs": recorder.recorded_epochs}
    Path(store, "selection.json").write_text(json.dumps(selection))


@torch.no_grad()
def curves(model: nn.Module, inputs, labels, train, test) -> dict[str, float]:
    """Loss and accuracy of both splits: the training curves ibpipe's plot stage draws."""
    model.eval()
    logits = model(inputs)
    losses = nn.functional.cross_entropy(logits, labels, reduction="none")
    correct = (logits.argmax(1) == labels).float()
    return {
        f"{name}_{what}": float(values[rows].mean())
        for name, rows in (("train", train), ("test", test))
        for what, values in (("loss", losses), ("accuracy", correct))
    }


if __name__ == "__main__":
    main()
