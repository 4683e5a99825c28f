"""S networks of one MLP architecture trained as one batched model: stacked weights, one Adam.

Batched training stacks the S networks' parameters as (S, ...) leaf tensors and runs every dense
layer as one ``torch.baddbmm``. One Adam over the stacked tensors is S independent Adams because
every Adam operation is elementwise, provided the loss is the SUM of the per-trial mean losses
(a mean over trials would scale each trial's gradient by 1/S). Each trial agrees with its single
run (``ibpipe.nn.training.train_epochs``) to float rounding, ~1e-7 per step: batched kernels sum in
another order, and thousands of epochs amplify that to ~1e-5 in the weights.

Speed (benchmarks/bench_trials.py): the small layers make a step cost mostly fixed overhead, so
batching is nearly free up to ~10 trials; beyond that the arithmetic counts, and three choices
halve it: feature-major activations (MKL's small batched GEMMs are ~5x faster as (out, in) @ (in,
rows)), tanh as 2 sigmoid(2z) - 1 (torch's CPU tanh is ~4x slower than its sigmoid), and the
accuracy from max(1).indices (argmax over a strided class axis is ~15x slower).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ibpipe.nn.mlp import MLP
from ibpipe.nn.training import EpochRecord


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
