"""The project's one training loop (``fit``), and seeded minibatch training that yields the weights of every epoch.

``fit`` is shared by the pipeline's ``train_epochs`` (a single network, or the S trials of a plain
MLP as one batched model, ``ibpipe.nn.batched``), the autoencoder of ``ibpipe.ae_entropy`` and the
bootstrap replicas of ``ibpipe.neurons``, so that they agree on how a step is taken (RNG use,
optimizer, op order) and differ only in what they do between epochs.

For ``train_epochs``, epoch 0 is the initialised network; epoch e is the network after e passes
over the training rows. Each yielded record carries the parameters (as numpy copies) and the
train/test loss and accuracy measured at that point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

HISTORY_METRICS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")
OPTIMIZERS = ("adam", "sgd")
FULL_BATCH = "full"


@dataclass(frozen=True)
class Optimizer:
    """The optimiser ``fit`` steps with: ``adam`` (the default) or ``sgd`` (plain, or with ``momentum``), each with
    L2 ``weight_decay`` added to the gradient (torch's ``weight_decay``). The update is elementwise in every case,
    so a batched model's networks (``ibpipe.nn.batched``) each take the step of their own single run."""

    name: str = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0

    def build(self, parameters, learning_rate: float, fused: bool | None = None) -> torch.optim.Optimizer | FusedAdam:
        if self.name == "adam" and fused:
            return FusedAdam(parameters, lr=learning_rate, weight_decay=self.weight_decay)
        if self.name == "adam":
            # weight_decay 0.0 is Adam's default: the default optimiser steps exactly as before it was a choice
            return torch.optim.Adam(parameters, lr=learning_rate, weight_decay=self.weight_decay, fused=fused)
        if self.name == "sgd":
            return torch.optim.SGD(parameters, lr=learning_rate, momentum=self.momentum, weight_decay=self.weight_decay)
        raise ValueError(f"optimizer {self.name!r} is not one of {', '.join(OPTIMIZERS)}")


ADAM = Optimizer()


class FusedAdam:
    """``torch.optim.Adam(fused=True)`` with its defaults (betas 0.9 and 0.999, eps 1e-8) and one parameter
    group, stepping by the very kernels its ``step`` ends in: ``torch._fused_adam_`` on the same state
    tensors, so every number is torch's, bit for bit (``tests/test_training_loop.py`` compares them).

    What it leaves out is overhead that dominates a step of small layers: ``Optimizer.step``'s Python
    (hooks, per-parameter state checks, grouping by device and dtype: ~0.1 ms a call), a ``_foreach_add_``
    over one step counter per parameter (here one ``add_`` on the counters stacked in one tensor, each
    parameter's counter a view of it), and the import of torch's compiler stack that building a
    ``torch.optim`` optimizer triggers (seconds in every process). Parameters without a gradient are
    skipped, as torch skips them.
    """

    BETAS = (0.9, 0.999)
    EPS = 1e-8

    def __init__(self, parameters, lr: float, weight_decay: float = 0.0):
        self.params = list(parameters)
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        # torch's state: zero moments in each parameter's layout, a float32 step counter per parameter
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self._counters = torch.zeros(len(self.params), dtype=torch.float32)
        self.state_steps = list(self._counters.unbind())

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.params:
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        grads = [parameter.grad for parameter in self.params]
        if all(grad is not None for grad in grads):
            params, exp_avgs, exp_avg_sqs, steps = self.params, self.exp_avgs, self.exp_avg_sqs, self.state_steps
            self._counters.add_(1)
        else:
            held = [number for number, grad in enumerate(grads) if grad is not None]
            if not held:
                return
            params, exp_avgs, exp_avg_sqs, steps, grads = (
                [values[number] for number in held]
                for values in (self.params, self.exp_avgs, self.exp_avg_sqs, self.state_steps, grads)
            )
            torch._foreach_add_(steps, 1)
        if any(grad.is_sparse for grad in grads):
            raise RuntimeError("Adam does not support sparse gradients")
        torch._fused_adam_(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=self.lr,
            beta1=self.BETAS[0],
            beta2=self.BETAS[1],
            weight_decay=self.weight_decay,
            eps=self.EPS,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    weights: dict[str, np.ndarray]
    metrics: dict[str, float]


@torch.no_grad()
def evaluate_splits(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, n_train: int, batch_rows: int = 8192
) -> dict[str, float | np.ndarray]:
    """Loss and accuracy of the first ``n_train`` rows (train) and the rest (test).

    ``model`` returns logits (rows, classes), or (trials, rows, classes) for a batched model
    (``ibpipe.nn.batched.BatchedMLP``), whose metrics are then arrays (trials,). Forward passes of
    at most ``batch_rows`` rows: one pass for a small dataset, and bounded memory for image
    networks (the thesis CNN's first conv of 70000 MNIST images is 3.5 GB).
    """
    losses, correct = [], []
    for start in range(0, len(labels), batch_rows):
        logits = model(inputs[start : start + batch_rows])
        batch_labels = labels[start : start + batch_rows].expand(logits.shape[:-1])
        losses.append(cross_entropy(logits, batch_labels))
        # max(-1).indices is argmax (the first maximum) without argmax's ~15x slower strided reduction
        correct.append(logits.max(dim=-1).indices == batch_labels)
    losses, correct = torch.cat(losses, dim=-1).double(), torch.cat(correct, dim=-1).double()
    return {
        "train_loss": _per_model(losses[..., :n_train].mean(-1)),
        "test_loss": _per_model(losses[..., n_train:].mean(-1)),
        "train_accuracy": _per_model(correct[..., :n_train].mean(-1)),
        "test_accuracy": _per_model(correct[..., n_train:].mean(-1)),
    }


def _per_model(values: torch.Tensor) -> float | np.ndarray:
    """A float for one model, an array (trials,) for a batched one."""
    return values.item() if values.dim() == 0 else values.numpy()


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Cross-entropy (nats) of each row of logits whose class axis is ``dim``: logsumexp minus the label's logit.

    Equal to ``nn.functional.cross_entropy(reduction="none")`` to float rounding, and ~1.6x faster on a
    batched model's feature-major logits, whose class axis is strided.
    """
    return torch.logsumexp(logits, dim) - logits.gather(dim, labels.unsqueeze(dim)).squeeze(dim)


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
    batch_size: int | str | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    fused: bool | None = None,
    optimizer: Optimizer = ADAM,
) -> Iterator[int]:
    """``optimizer`` (Adam unless told) on ``loss(model, *batch)``; yields the number of each finished epoch.

    ``data`` holds tensors of equal length whose rows are the examples; a batch takes the same
    rows of each. With ``batch_size`` every epoch draws one ``torch.randperm`` from ``generator``
    (the global RNG when None), gathers the rows once and steps on contiguous slices; with
    ``batch_size=None`` or ``"full"`` an epoch is a single full-batch step on ``data`` as given
    (gradient descent), and no random number is drawn. ``fused=True`` steps Adam by torch's fused
    kernel (``FusedAdam``); None or False keep ``torch.optim.Adam``'s default implementation (SGD uses
    torch's default).

    A batched model (S networks in one, ``ibpipe.nn.batched``) takes one generator per network:
    each epoch then draws S permutations, so the shuffled data and every batch have a leading
    trial axis (S, rows, ...), and network s sees the batches its own single run would see; a full
    batch is ``data`` behind a trial axis, unshuffled.

    ``loss`` may carry a ``gradients`` attribute, a function of the model that returns None or a function
    of a batch setting every parameter's ``grad`` as ``loss(model, *batch).backward()`` would (bit for bit,
    ``ibpipe.nn.batched.hand_gradients``); fit then steps on those gradients instead of building a graph.

    A generator, not a callback: the caller does its per-epoch work (measure, record, early stop)
    at each ``yield`` and stops training by leaving the loop. That lets ``train_epochs`` stream
    its records and ``train_autoencoder`` break on patience without the loop knowing either. The
    caller may put the model in eval mode at a ``yield``; the next epoch calls ``model.train()``
    (unless the model says it is ``mode_free``: its forward ignores the mode, as ``BatchedMLP``'s).
    The optimizer is built on the first ``next``, from the parameters the model holds then.
    """
    step_rule = optimizer.build(model.parameters(), learning_rate, fused)
    # A loss may bring a hand-written backward for the model (``ibpipe.nn.batched.hand_gradients``): it sets
    # the gradients autograd would, bit for bit, at a fraction of the per-op overhead of a graph.
    set_gradients = getattr(loss, "gradients", lambda _model: None)(model)
    n_rows = len(data[0])
    full = batch_size is None or batch_size == FULL_BATCH
    if full and generator is not None and not isinstance(generator, torch.Generator):
        data = tuple(tensor.expand(len(generator), *tensor.shape) for tensor in data)  # every network: all rows
    switch_modes = not getattr(model, "mode_free", False)
    for epoch in range(1, epochs + 1):
        if switch_modes:
            model.train()
        if full:
            batches: Iterator[tuple[torch.Tensor, ...]] = iter((data,))
        else:
            # Shuffle once per epoch, then take contiguous slices: one gather instead of one per batch.
            order = _permutation(n_rows, generator)
            shuffled = tuple(tensor[order] for tensor in data)
            rows = order.dim() - 1  # 0, or 1 behind a trial axis
            batches = (
                tuple(tensor.narrow(rows, start, min(batch_size, n_rows - start)) for tensor in shuffled)
                for start in range(0, n_rows, batch_size)
            )
        for batch in batches:
            if set_gradients is None:
                step_rule.zero_grad(set_to_none=True)
                loss(model, *batch).backward()
            else:
                set_gradients(*batch)
            step_rule.step()
        yield epoch


def _permutation(n_rows: int, generator: torch.Generator | Sequence[torch.Generator] | None) -> torch.Tensor:
    """A random order of the rows (rows,), or one per generator of a sequence (trials, rows)."""
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randperm(n_rows, generator=generator)
    return torch.stack([torch.randperm(n_rows, generator=one) for one in generator])


def train_epochs(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    batch_size: int | str,
    learning_rate: float,
    seed: int | Sequence[int],
    loss: Callable[..., torch.Tensor] = classification_loss,
    optimizer: Optimizer = ADAM,
) -> Iterator[EpochRecord]:
    """Train with ``optimizer`` (Adam unless told) on shuffled minibatches, or on all rows at once with
    ``batch_size="full"``, and yield a record for epochs 0..epochs.

    A batched model of S networks takes S seeds, one minibatch order each, and its loss (the sum of
    the networks' mean losses, ``ibpipe.nn.batched.summed_classification_loss``); its records carry
    a leading trial axis in every weight and metric.
    """
    generator = (
        [torch.Generator().manual_seed(one) for one in seed]
        if isinstance(seed, Sequence)
        else torch.Generator().manual_seed(seed)
    )
    n_rows = len(train[1])
    # One forward pass over train and test rows together measures both splits.
    all_inputs, all_labels = torch.cat([train[0], test[0]]), torch.cat([train[1], test[1]])

    mode_free = getattr(model, "mode_free", False)
    # A mode-free model's state is its parameters, which the optimizer updates in place: read them where they are.
    state = model.state_dict() if mode_free else None

    def record(epoch: int) -> EpochRecord:
        if not mode_free:
            model.eval()
        weights = snapshot(model) if state is None else {name: value.numpy().copy() for name, value in state.items()}
        return EpochRecord(epoch, weights, evaluate_splits(model, all_inputs, all_labels, n_rows))

    yield record(0)
    # The fused kernel makes a step ~30% faster for small networks on the CPU.
    steps = fit(
        model,
        loss,
        train,
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=batch_size,
        generator=generator,
        fused=True,
        optimizer=optimizer,
    )
    for epoch in steps:
        yield record(epoch)
