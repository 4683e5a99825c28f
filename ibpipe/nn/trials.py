"""Trials: S seeds of one configuration, trained as batched models when the network is a plain MLP.

Trial s uses seed ``seed + s`` for both its initialisation (torch's global generator, seeded just
before the network is built, as a single run does) and its minibatch order (its own
``torch.Generator``), so trial s follows the procedure of ``ibpipe.nn.training.train_epochs`` with
seed ``seed + s``: trial 0 is the single run of ``seed`` up to float rounding (batched kernels, see
``ibpipe.nn.batched``). A plain MLP's trials are split over ``processes`` processes, each share one
batched model (``ibpipe.nn.shares``), so both cores of a laptop work. Networks that are not plain
MLPs (CNNs, custom, noisy or quantized nets) run their trials one after another.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ibpipe.nn.batched import BatchedMLP, summed_classification_loss
from ibpipe.nn.mlp import MLP
from ibpipe.nn.shares import split_trials, train_in_processes
from ibpipe.nn.training import ADAM, EpochRecord, Optimizer, train_epochs


def trial_seed(seed: int, trial: int) -> int:
    """Seed of trial ``trial``: ``seed + trial`` (trial 0 is the single run of ``seed``)."""
    return int(seed) + int(trial)


def batchable(model: nn.Module) -> bool:
    """True for a plain MLP (dense layers and elementwise nonlinearities, no noise, no quantization)."""
    return type(model) is MLP and model.noise_std == 0


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
    batch_size: int | str,
    learning_rate: float,
    seed: int,
    prepare: Callable[[nn.Module], Any] | None = None,
    processes: int = 1,
    optimizer: Optimizer = ADAM,
) -> Iterator[tuple[range, Iterator[EpochRecord]]]:
    """(trials covered, record stream) pairs: one for a batchable network, one per trial otherwise.

    A batchable network's trials are one ``BatchedMLP``, or, with ``processes`` > 1, contiguous
    shares of them, each one ``BatchedMLP`` in its own process (``ibpipe.nn.shares``), whose records
    are joined epoch by epoch into one stream. The split changes the numbers only by float rounding
    (batched kernels of another size sum in another order; training amplifies it to ~1e-5 in the
    weights). ``prepare`` runs on each model after it is built (e.g. loading a checkpoint). Record
    streams carry a leading trial axis in every weight and metric.
    """
    seeds = [trial_seed(seed, trial) for trial in trials]
    torch.manual_seed(seeds[0])
    first = build()
    if batchable(first):
        models = [first, *build_trial_models(build, seed, trials[1:])]
        for model in models:
            if prepare is not None:
                prepare(model)
        shares = split_trials(trials, processes)
        options = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "optimizer": optimizer}
        yield trials, _train_batched(models, seeds, train, test, shares, **options)
        return
    for trial, trial_seed_value in zip(trials, seeds):
        # Seed, build, prepare, train: the order of a single run, so a noisy net's noise draws match it too.
        if trial != trials[0]:
            torch.manual_seed(trial_seed_value)
            first = build()
        if prepare is not None:
            prepare(first)
        records = train_epochs(
            first, train, test, epochs, batch_size, learning_rate, trial_seed_value, optimizer=optimizer
        )
        yield range(trial, trial + 1), with_trial_axis(records)


def _train_batched(
    models: list[MLP],
    seeds: list[int],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    shares: list[range],
    **options: Any,
) -> Iterator[EpochRecord]:
    """Records of ``models`` trained as one ``BatchedMLP`` per share, each share but the last in a worker process."""
    flat = {"train": (train[0].flatten(1), train[1]), "test": (test[0].flatten(1), test[1])}
    starts = np.cumsum([0, *map(len, shares)])
    jobs = [
        {
            "model": BatchedMLP(models[start:stop]),
            "seed": seeds[start:stop],
            "loss": summed_classification_loss,
            **flat,
            **options,
        }
        for start, stop in itertools.pairwise(starts)
    ]
    return train_epochs(**jobs[0]) if len(jobs) == 1 else train_in_processes(jobs, shares)


def stack_trial_weights(per_trial: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.stack([weights[name] for weights in per_trial]) for name in per_trial[0]}
