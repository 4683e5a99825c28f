"""Trials: S seeds of one configuration, trained as one batched model when the network is a plain MLP.

Trial s uses seed ``seed + s`` for both its initialisation (torch's global generator, seeded just
before the network is built, as a single run does) and its minibatch order (its own
``torch.Generator``), so trial 0 is exactly today's single run and trial s of a batched run follows
the procedure of ``ibpipe.nn.training.train_epochs`` with seed ``seed + s``.

Batched training stacks the S networks' parameters as (S, ...) leaf tensors and runs every dense
layer as one ``torch.baddbmm``. One Adam over the stacked tensors is S independent Adams because
every Adam operation is elementwise, provided the loss is the SUM of the per-trial mean losses
(a mean over trials would scale each trial's gradient by 1/S). Results agree with separate runs to
float rounding (~1e-7): batched kernels sum in another order. Networks that are not plain MLPs
(CNNs, custom, noisy or quantized nets) run their trials one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ibpipe.nn.mlp import MLP
from ibpipe.nn.training import EpochRecord, train_epochs


def trial_seed(seed: int, trial: int) -> int:
    """Seed of trial ``trial``: ``seed + trial`` (trial 0 is the single run of ``seed``)."""
    return int(seed) + int(trial)


def batchable(model: nn.Module) -> bool:
    """True for a plain MLP (dense layers and elementwise nonlinearities, no noise, no quantization)."""
    return type(model) is MLP and model.noise_std == 0


class BatchedMLP:
    """S copies of one ``MLP`` architecture with stacked parameters, named as in the MLP's state_dict.

    ``parameters[name]`` is (S, *shape); layer k computes ``baddbmm(bias[:, None], h, weight^T)``
    then the block's nonlinearity (elementwise, so it applies to the stacked activations unchanged).
    """

    def __init__(self, models: list[MLP]):
        template = models[0]
        self.parameters = {
            name: torch.stack([model.state_dict()[name] for model in models]).detach().clone().requires_grad_(True)
            for name in template.state_dict()
        }
        self.blocks: list[tuple[str, nn.Module | None]] = []
        for name, block in template.layers.named_children():
            if isinstance(block, nn.Sequential):
                self.blocks.append((f"layers.{name}.0", block[1]))
            else:
                self.blocks.append((f"layers.{name}", None))

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (S, rows, classes) of inputs (S, rows, features)."""
        hidden = inputs
        for prefix, nonlinearity in self.blocks:
            weight, bias = self.parameters[f"{prefix}.weight"], self.parameters[f"{prefix}.bias"]
            hidden = torch.baddbmm(bias.unsqueeze(1), hidden, weight.transpose(1, 2))
            if nonlinearity is not None:
                hidden = nonlinearity(hidden)
        return hidden

    def snapshot(self) -> dict[str, np.ndarray]:
        return {name: tensor.detach().numpy().copy() for name, tensor in self.parameters.items()}


@torch.no_grad()
def _evaluate(net: BatchedMLP, inputs: torch.Tensor, labels: torch.Tensor, n_train: int) -> dict[str, np.ndarray]:
    """Per-trial loss and accuracy of the first ``n_train`` rows (train) and the rest (test), each (S,)."""
    logits = net(inputs.expand(len(net.parameters["layers.output.bias"]), -1, -1))
    n_trials = logits.shape[0]
    losses = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.repeat(n_trials), reduction="none"
    ).reshape(n_trials, -1)
    correct = (logits.argmax(dim=2) == labels).double()
    return {
        "train_loss": losses[:, :n_train].double().mean(1).numpy(),
        "test_loss": losses[:, n_train:].double().mean(1).numpy(),
        "train_accuracy": correct[:, :n_train].mean(1).numpy(),
        "test_accuracy": correct[:, n_train:].mean(1).numpy(),
    }


def train_batched(
    models: list[MLP],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seeds: list[int],
) -> Iterator[EpochRecord]:
    """Like ``train_epochs`` for S models at once: records whose weights are (S, ...) and metrics (S,).

    Each epoch, trial s draws ``torch.randperm`` from its own generator (seeded ``seeds[s]``), as
    ``train_epochs`` does, and steps on contiguous slices of its shuffled rows.
    """
    net = BatchedMLP(models)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    inputs, labels = train[0].flatten(1), train[1]
    n_rows, n_trials = len(labels), len(models)
    all_inputs = torch.cat([inputs, test[0].flatten(1)])
    all_labels = torch.cat([labels, test[1]])

    def record(epoch: int) -> EpochRecord:
        return EpochRecord(epoch, net.snapshot(), _evaluate(net, all_inputs, all_labels, n_rows))

    yield record(0)
    optimizer = torch.optim.Adam(list(net.parameters.values()), lr=learning_rate, fused=True)
    for epoch in range(1, epochs + 1):
        order = torch.stack([torch.randperm(n_rows, generator=generator) for generator in generators])
        shuffled_inputs, shuffled_labels = inputs[order], labels[order]
        for start in range(0, n_rows, batch_size):
            batch_inputs = shuffled_inputs[:, start : start + batch_size]
            batch_labels = shuffled_labels[:, start : start + batch_size]
            logits = net(batch_inputs)
            # Sum over trials of each trial's mean loss: every trial gets exactly its own gradient.
            per_row = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), batch_labels.reshape(-1), reduction="none"
            )
            loss = per_row.reshape(n_trials, -1).mean(1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        yield record(epoch)


def build_trial_models(build: Callable[[], nn.Module], seed: int, trials: range) -> list[nn.Module]:
    """One network per trial, each built right after ``torch.manual_seed(trial_seed(seed, trial))``."""
    models = []
    for trial in trials:
        torch.manual_seed(trial_seed(seed, trial))
        models.append(build())
    return models


def with_trial_axis(records: Iterator[EpochRecord]) -> Iterator[EpochRecord]:
    """A single run's records with a leading trial axis of length 1."""
    for record in records:
        yield EpochRecord(
            record.epoch,
            {name: value[None] for name, value in record.weights.items()},
            {name: np.asarray([value]) for name, value in record.metrics.items()},
        )


def train_trials(
    build: Callable[[], nn.Module],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    trials: range,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    prepare: Callable[[nn.Module], Any] | None = None,
) -> Iterator[tuple[range, Iterator[EpochRecord]]]:
    """(trials covered, record stream) pairs: one pair for a batchable network, one per trial otherwise.

    ``prepare`` runs on each model after it is built (e.g. loading a checkpoint). Record streams
    carry a leading trial axis in every weight and metric.
    """
    seeds = [trial_seed(seed, trial) for trial in trials]
    torch.manual_seed(seeds[0])
    first = build()
    if batchable(first):
        models = [first, *build_trial_models(build, seed, trials[1:])]
        for model in models:
            if prepare is not None:
                prepare(model)
        yield trials, train_batched(models, train, test, epochs, batch_size, learning_rate, seeds)
        return
    for trial, trial_seed_value in zip(trials, seeds):
        # Seed, build, prepare, train: the order of a single run, so a noisy net's noise draws match it too.
        if trial != trials[0]:
            torch.manual_seed(trial_seed_value)
            first = build()
        if prepare is not None:
            prepare(first)
        records = train_epochs(first, train, test, epochs, batch_size, learning_rate, trial_seed_value)
        yield range(trial, trial + 1), with_trial_axis(records)


def stack_trial_weights(per_trial: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.stack([weights[name] for weights in per_trial]) for name in per_trial[0]}
