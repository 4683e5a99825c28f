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

Speed (benchmarks/bench_trials.py): the small layers make a step cost mostly fixed overhead, so
batching is nearly free up to ~10 trials; beyond that the arithmetic counts, and three choices
halve it: feature-major activations (MKL's small batched GEMMs are ~5x faster as (out, in) @ (in,
rows)), tanh as 2 sigmoid(2z) - 1 (torch's CPU tanh is ~4x slower than its sigmoid), and the trials
split over ``processes`` processes, one share each, so both cores of a laptop work.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
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


class _SigmoidTanh(torch.autograd.Function):
    """tanh(z) = 2 sigmoid(2z) - 1, ~4x faster than ``torch.tanh`` on the CPU (float32, one thread);
    equal to it within 2e-7. The derivative comes from the output, 1 - tanh^2, as for ``torch.tanh``."""

    @staticmethod
    def forward(ctx, values: torch.Tensor) -> torch.Tensor:
        result = torch.sigmoid(2 * values).mul_(2).sub_(1)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        (result,) = ctx.saved_tensors
        return gradient * (1 - result * result)


def _batched_nonlinearity(block: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return _SigmoidTanh.apply if isinstance(block, nn.Tanh) else block


class BatchedMLP:
    """S copies of one ``MLP`` architecture with stacked parameters, named as in the MLP's state_dict.

    ``parameters[name]`` is (S, *shape). Activations are feature-major, (S, features, rows): layer k
    computes ``baddbmm(bias[:, :, None], weight, h)``, (S, out, in) @ (S, in, rows), which MKL runs
    ~5x faster than the row-major (S, rows, in) @ (S, in, out) for these narrow layers.
    """

    def __init__(self, models: list[MLP]):
        template = models[0]
        self.parameters = {
            name: torch.stack([model.state_dict()[name] for model in models]).detach().clone().requires_grad_(True)
            for name in template.state_dict()
        }
        self.blocks: list[tuple[torch.Tensor, torch.Tensor, Callable | None]] = []
        for name, block in template.layers.named_children():
            prefix, nonlinearity = (
                (f"layers.{name}.0", _batched_nonlinearity(block[1]))
                if isinstance(block, nn.Sequential)
                else (f"layers.{name}", None)
            )
            self.blocks.append((self.parameters[f"{prefix}.weight"], self.parameters[f"{prefix}.bias"], nonlinearity))

    @property
    def n_trials(self) -> int:
        return len(self.blocks[0][0])

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (S, classes, rows) of feature-major inputs (S, features, rows)."""
        hidden = inputs
        for weight, bias, nonlinearity in self.blocks:
            hidden = torch.baddbmm(bias.unsqueeze(2), weight, hidden)
            if nonlinearity is not None:
                hidden = nonlinearity(hidden)
        return hidden

    def snapshot(self) -> dict[str, np.ndarray]:
        return {name: tensor.detach().numpy().copy() for name, tensor in self.parameters.items()}


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-row cross-entropy (S, rows) of logits (S, classes, rows): logsumexp minus the label's logit
    (``nn.functional.cross_entropy`` over a class axis of 2 is ~1.6x slower on the CPU)."""
    return torch.logsumexp(logits, 1) - logits.gather(1, labels.unsqueeze(1)).squeeze(1)


@torch.no_grad()
def _evaluate(net: BatchedMLP, inputs: torch.Tensor, labels: torch.Tensor, n_train: int) -> dict[str, np.ndarray]:
    """Per-trial loss and accuracy of the first ``n_train`` rows (train) and the rest (test), each (S,);
    ``inputs`` feature-major (features, rows)."""
    logits = net(inputs.expand(net.n_trials, -1, -1))
    losses = _cross_entropy(logits, labels.expand(net.n_trials, -1)).double()
    # max(1).indices is argmax (first maximum) without argmax's ~15x slower strided reduction
    correct = (logits.max(dim=1).indices == labels).double()
    return {
        "train_loss": losses[:, :n_train].mean(1).numpy(),
        "test_loss": losses[:, n_train:].mean(1).numpy(),
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
    n_rows = len(labels)
    all_inputs = torch.cat([inputs, test[0].flatten(1)]).T.contiguous()
    all_labels = torch.cat([labels, test[1]])

    def record(epoch: int) -> EpochRecord:
        return EpochRecord(epoch, net.snapshot(), _evaluate(net, all_inputs, all_labels, n_rows))

    yield record(0)
    optimizer = torch.optim.Adam(list(net.parameters.values()), lr=learning_rate, fused=True)
    for epoch in range(1, epochs + 1):
        order = torch.stack([torch.randperm(n_rows, generator=generator) for generator in generators])
        shuffled_inputs, shuffled_labels = inputs[order], labels[order]
        for start in range(0, n_rows, batch_size):
            logits = net(shuffled_inputs[:, start : start + batch_size].transpose(1, 2))
            # Sum over trials of each trial's mean loss: every trial gets exactly its own gradient.
            loss = _cross_entropy(logits, shuffled_labels[:, start : start + batch_size]).mean(1).sum()
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


def split_trials(trials: range, processes: int) -> list[range]:
    """Contiguous shares of ``trials`` for ``processes`` processes, the larger shares first."""
    shares = np.array_split(np.arange(len(trials)), max(1, min(processes, len(trials))))
    return [range(trials[share[0]], trials[share[-1]] + 1) for share in shares]


def _train_share_to_files(
    models: list[MLP], train, test, epochs: int, batch_size: int, learning_rate: float, seeds, folder: str, threads: int
) -> None:
    """Worker process: train one share of the trials as a batched model into .npy files of ``folder``,
    (epoch, trial, ...) per weight and metric; ``done.json`` (the names) is written last."""
    torch.set_num_threads(threads)
    parent = os.getppid()
    arrays: dict[str, np.ndarray] = {}
    for record in train_batched(models, train, test, epochs, batch_size, learning_rate, seeds):
        values = {**{f"weights.{k}": v for k, v in record.weights.items()}, **record.metrics}
        for name, value in values.items():
            if name not in arrays:
                shape = (epochs + 1, *np.shape(value))
                arrays[name] = np.lib.format.open_memmap(f"{folder}/{name}.npy", "w+", np.asarray(value).dtype, shape)
            arrays[name][record.epoch] = value
        if os.getppid() != parent:  # the stage was killed: stop instead of training for nobody
            return
    for array in arrays.values():
        array.flush()
    Path(folder, "done.json").write_text(json.dumps(list(arrays)))


def _records_from_files(folder: str) -> Iterator[EpochRecord]:
    names = json.loads(Path(folder, "done.json").read_text())
    arrays = {name: np.load(f"{folder}/{name}.npy", mmap_mode="r") for name in names}
    prefix = "weights."
    for epoch in range(len(next(iter(arrays.values())))):
        weights = {name[len(prefix) :]: np.array(a[epoch]) for name, a in arrays.items() if name.startswith(prefix)}
        metrics = {name: np.array(a[epoch]) for name, a in arrays.items() if not name.startswith(prefix)}
        yield EpochRecord(epoch, weights, metrics)


def _train_in_processes(
    models: list[MLP], shares: list[range], train, test, epochs, batch_size, learning_rate, seeds
) -> Iterator[tuple[range, Iterator[EpochRecord]]]:
    """The first share trains here while every other share trains in its own spawned process; their
    records come back through memory-mapped files once the here-share's stream is consumed."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="ibpipe-trials-") as scratch:
        workers = []
        offset = len(shares[0])
        for number, share in enumerate(shares[1:], start=1):
            folder = f"{scratch}/share{number}"
            os.mkdir(folder)
            picked = slice(offset, offset + len(share))
            arguments = (models[picked], train, test, epochs, batch_size, learning_rate, seeds[picked], folder)
            worker = context.Process(
                target=_train_share_to_files, args=(*arguments, torch.get_num_threads()), daemon=True
            )
            worker.start()
            workers.append((share, folder, worker))
            offset += len(share)
        try:
            here = slice(0, len(shares[0]))
            yield shares[0], train_batched(models[here], train, test, epochs, batch_size, learning_rate, seeds[here])
            for share, folder, worker in workers:
                worker.join()
                if worker.exitcode != 0 or not Path(folder, "done.json").exists():
                    raise RuntimeError(
                        f"the process training trials {share.start}..{share.stop - 1} failed "
                        f"(exit code {worker.exitcode}); its traceback is printed above"
                    )
                yield share, _records_from_files(folder)
        finally:
            for _share, _folder, worker in workers:
                if worker.is_alive():
                    worker.terminate()
                    worker.join()


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
    processes: int = 1,
) -> Iterator[tuple[range, Iterator[EpochRecord]]]:
    """(trials covered, record stream) pairs: one per process share for a batchable network, one per
    trial otherwise.

    A batchable network's trials are split into ``processes`` contiguous shares, each trained as
    one batched model in its own process (the trials are independent: the split changes the
    numbers only by float rounding, batched kernels of another size summing in another order).
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
        shares = split_trials(trials, processes)
        if len(shares) == 1:
            yield trials, train_batched(models, train, test, epochs, batch_size, learning_rate, seeds)
        else:
            yield from _train_in_processes(models, shares, train, test, epochs, batch_size, learning_rate, seeds)
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
