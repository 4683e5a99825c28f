"""The project's one training loop (``fit``), and seeded minibatch training that yields the weights of every epoch.

``fit`` is shared by the pipeline's ``train_epochs``, the autoencoder of ``ibpipe.ae_entropy``
and the bootstrap replicas of ``ibpipe.neurons``, so that the three agree on how a step is
taken (RNG use, optimizer, op order) and differ only in what they do between epochs.

For ``train_epochs``, epoch 0 is the initialised network; epoch e is the network after e passes
over the training rows. Each yielded record carries the parameters (as numpy copies) and the
train/test loss and accuracy measured at that point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

HISTORY_METRICS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    weights: dict[str, np.ndarray]
    metrics: dict[str, float]


@torch.no_grad()
def evaluate_splits(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, n_train: int, batch_rows: int = 8192
) -> dict[str, float]:
    """Loss and accuracy of the first ``n_train`` rows (train) and the rest (test).

    Forward passes of at most ``batch_rows`` rows: one pass for a small dataset, and bounded
    memory for image networks (the thesis CNN's first conv of 70000 MNIST images is 3.5 GB).
    """
    losses, correct = [], []
    for start in range(0, len(labels), batch_rows):
        logits = model(inputs[start : start + batch_rows])
        batch_labels = labels[start : start + batch_rows]
        losses.append(nn.functional.cross_entropy(logits, batch_labels, reduction="none"))
        correct.append((logits.argmax(dim=1) == batch_labels).double())
    losses, correct = torch.cat(losses), torch.cat(correct)
    return {
        "train_loss": losses[:n_train].mean().item(),
        "test_loss": losses[n_train:].mean().item(),
        "train_accuracy": correct[:n_train].mean().item(),
        "test_accuracy": correct[n_train:].mean().item(),
    }


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: tensor.detach().cpu().numpy().copy() for name, tensor in model.state_dict().items()}


def classification_loss(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the model's logits: the loss of the pipeline network and of the replicas."""
    return nn.functional.cross_entropy(model(inputs), labels)


def fit(
    model: nn.Module,
    loss: Callable[..., torch.Tensor],
    data: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
    fused: bool | None = None,
) -> Iterator[int]:
    """Adam on ``loss(model, *batch)``; yields the number of each finished epoch (1..epochs).

    ``data`` holds tensors of equal length whose rows are the examples; a batch takes the same
    rows of each. With ``batch_size`` every epoch draws one ``torch.randperm`` from ``generator``
    (the global RNG when None), gathers the rows once and steps on contiguous slices; with
    ``batch_size=None`` an epoch is a single full-batch step on ``data`` as given, and no random
    number is drawn. ``fused`` goes to ``torch.optim.Adam`` unchanged, so None keeps torch's
    default implementation.

    A generator, not a callback: the caller does its per-epoch work (measure, record, early stop)
    at each ``yield`` and stops training by leaving the loop. That lets ``train_epochs`` stream
    its records and ``train_autoencoder`` break on patience without the loop knowing either. The
    caller may put the model in eval mode at a ``yield``; the next epoch calls ``model.train()``.
    The optimizer is built on the first ``next``, from the parameters the model holds then.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, fused=fused)
    n_rows = len(data[0])
    for epoch in range(1, epochs + 1):
        model.train()
        if batch_size is None:
            batches: Iterator[tuple[torch.Tensor, ...]] = iter((data,))
        else:
            # Shuffle once per epoch, then take contiguous slices: one gather instead of one per batch.
            order = torch.randperm(n_rows, generator=generator)
            shuffled = tuple(tensor[order] for tensor in data)
            batches = (
                tuple(tensor[start : start + batch_size] for tensor in shuffled)
                for start in range(0, n_rows, batch_size)
            )
        for batch in batches:
            optimizer.zero_grad(set_to_none=True)
            loss(model, *batch).backward()
            optimizer.step()
        yield epoch


def train_epochs(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> Iterator[EpochRecord]:
    """Train with Adam on shuffled minibatches and yield a record for epochs 0..epochs."""
    generator = torch.Generator().manual_seed(seed)
    n_rows = len(train[1])
    # One forward pass over train and test rows together measures both splits.
    all_inputs, all_labels = torch.cat([train[0], test[0]]), torch.cat([train[1], test[1]])

    def record(epoch: int) -> EpochRecord:
        model.eval()
        return EpochRecord(epoch, snapshot(model), evaluate_splits(model, all_inputs, all_labels, n_rows))

    yield record(0)
    # The fused kernel makes a step ~30% faster for small networks on the CPU.
    steps = fit(
        model,
        classification_loss,
        train,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        generator=generator,
        fused=True,
    )
    for epoch in steps:
        yield record(epoch)
