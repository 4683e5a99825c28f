"""S networks of one MLP architecture as one module: stacked weights, outputs with a leading trial axis.

``BatchedMLP`` stacks the S networks' parameters as (S, ...) tensors, named as in the MLP's
state_dict, and runs every dense layer as one ``torch.baddbmm``. It trains in the project's one
loop (``ibpipe.nn.training.train_epochs``, i.e. ``fit``) with one seed per network and
``summed_classification_loss``: one Adam over the stacked tensors is S independent Adams because
every Adam operation is elementwise, provided the loss is the SUM of the per-trial mean losses (a
mean over trials would scale each trial's gradient by 1/S). Each trial agrees with its single run
to float rounding, ~1e-7 per step: batched kernels sum in another order, and thousands of epochs
amplify that to ~1e-5 in the weights.

Speed (benchmarks/bench_trials.py): the small layers make a step cost mostly fixed overhead, so
batching is nearly free up to ~10 trials; beyond that the arithmetic counts, and three choices
halve it: feature-major activations (MKL's small batched GEMMs are ~5x faster as (out, in) @ (in,
rows): 48 us against 244 us for 50 x 256 rows x 12 -> 10), tanh as 2 sigmoid(2z) - 1 (torch's CPU
tanh is ~4x slower than its sigmoid), and cross-entropy and accuracy as logsumexp and max-index
reductions over the class axis (``ibpipe.nn.training.cross_entropy``), which is strided here.

A step then costs mostly the per-op overhead of torch's dispatcher and autograd. ``fit`` therefore
takes the gradients of a tanh network from ``hand_gradients`` (the ops autograd runs, without the
graph) and steps Adam by torch's fused kernel directly (``ibpipe.nn.training.FusedAdam``): about a
third of the CPU time per epoch, every number bit for bit as before (benchmarks/bench_train.py
compares the stores of two commits).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from ibpipe.nn.mlp import MLP
from ibpipe.nn.training import cross_entropy

# Python scalars in a tensor op are wrapped into a tensor and converted at every call; these are the same
# numbers, converted once (x * 2 and x - 1 in float32 either way).
_ONE, _TWO = torch.tensor(1.0), torch.tensor(2.0)


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


class SigmoidTanh(nn.Module):
    """``nn.Tanh`` computed as 2 sigmoid(2z) - 1: the batched model's tanh."""

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return _SigmoidTanh.apply(values)


class BatchedLinear(nn.Module):
    """S dense layers on feature-major activations: (S, out, in) @ (S, in, rows) + bias, one ``baddbmm``."""

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(2), self.weight, hidden)


class BatchedMLP(nn.Module):
    """S copies of one ``MLP`` architecture as one module, its state_dict the MLP's with a leading (S,) axis.

    ``forward`` takes inputs (rows, features) shared by all S networks, or (S, rows, features), each
    network its own rows (as ``fit`` batches with one generator per network), and returns logits
    (S, rows, classes). Inside, activations are feature-major, (S, features, rows): MKL runs
    (S, out, in) @ (S, in, rows) ~5x faster than the row-major (S, rows, in) @ (S, in, out) for these
    narrow layers.
    """

    # Its forward is the same in train and eval mode, and its state_dict holds only its parameters: the
    # training loop neither switches its mode nor rebuilds its state_dict every epoch.
    mode_free = True

    def __init__(self, models: list[MLP]):
        super().__init__()
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        # The forward pass calls these in order, each by its ``forward``: ``Module.__call__`` costs ~1 us
        # (hook checks), a sizeable share of a small layer's batched GEMM.
        steps: list[nn.Module] = []
        for name, block in models[0].layers.named_children():
            same = [model.layers.get_submodule(name) for model in models]
            if isinstance(block, nn.Sequential):  # (Linear, nonlinearity): a plain MLP's hidden layer
                nonlinearity = SigmoidTanh() if isinstance(block[1], nn.Tanh) else block[1]
                blocks[name] = nn.Sequential(BatchedLinear([layer[0] for layer in same]), nonlinearity)
                steps += list(blocks[name])
            else:
                blocks[name] = BatchedLinear(same)
                steps.append(blocks[name])
        self.layers = nn.Sequential(blocks)
        self.n_trials = len(models)
        self._steps = steps
        self._dense = _dense_layers(steps)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = inputs.transpose(-1, -2)
        if inputs.dim() == 2:
            hidden = hidden.contiguous().expand(self.n_trials, -1, -1)
        if self._dense is not None and not torch.is_grad_enabled():
            # no graph to record: the same ops without ``Function.apply``'s overhead (evaluation every epoch)
            for layer, tanh in self._dense:
                if tanh:  # 2 z straight from the GEMM: scaling by 2 is exact, so this is 2 * baddbmm(...) bit for bit
                    hidden = torch.baddbmm(layer.bias.unsqueeze(2), layer.weight, hidden, beta=2, alpha=2)
                    hidden = hidden.sigmoid_().mul_(_TWO).sub_(_ONE)
                else:
                    hidden = torch.baddbmm(layer.bias.unsqueeze(2), layer.weight, hidden)
            return hidden.transpose(1, 2)
        for step in self._steps:
            hidden = step.forward(hidden)
        return hidden.transpose(1, 2)


def _dense_layers(steps: list[nn.Module]) -> list[tuple[BatchedLinear, bool]] | None:
    """(dense layer, followed by tanh) for each layer of ``steps`` when every nonlinearity is tanh; else None."""
    layers: list[tuple[BatchedLinear, bool]] = []
    for step in steps:
        if isinstance(step, BatchedLinear):
            layers.append((step, False))
        elif isinstance(step, SigmoidTanh) and layers and not layers[-1][1]:
            layers[-1] = (layers[-1][0], True)
        else:
            return None
    return layers


def summed_classification_loss(model: BatchedMLP, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over the S networks of each one's mean cross-entropy, labels (S, rows): every network gets
    exactly the gradient of its own single run.

    The loss reads the logits in the model's own layout, (S, classes, rows): the gradients then reach
    the batched GEMMs contiguous (through the (S, rows, classes) view they would arrive strided, and
    the weights would differ from the ones before this module was a ``fit`` model in the last bits).
    """
    return cross_entropy(model(inputs).transpose(1, 2), labels, dim=1).mean(-1).sum()


def hand_gradients(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], None] | None:
    """A function of (inputs, labels) that sets every parameter's ``grad`` to its gradient of
    ``summed_classification_loss`` (replacing it, not adding to it), for a ``BatchedMLP`` of dense layers and
    tanh; None for any other model, which then goes through autograd.

    The forward pass keeps each layer's input and output, and the backward pass runs the ops that autograd
    runs for that loss (the backward formulas of ``baddbmm``, ``logsumexp``, ``gather`` and ``_SigmoidTanh``,
    on tensors of the same layout), so the gradients are autograd's bit for bit, without its graph: a step of
    these small layers costs mostly per-op overhead, and this takes about half the ops. Two rewrites are
    exact in floating point: the gather's gradient (minus the row weight, scattered onto zeros, then added)
    is scattered straight onto the logsumexp's gradient, x + 0 being x; python scalars are float32 tensors.
    The function holds views of the parameters: make it after the last change of which tensors they are.
    """
    layers = getattr(model, "_dense", None)
    if not isinstance(model, BatchedMLP) or layers is None:
        return None
    with torch.no_grad():
        biases = [layer.bias.unsqueeze(2) for layer, _ in layers]
        weights = [layer.weight for layer, _ in layers]
        transposed = [layer.weight.transpose(1, 2) for layer, _ in layers]
    bias_grads = [layer.bias for layer, _ in layers]
    tanh = [after for _, after in layers]
    one, two = _ONE, _TWO
    row_weights: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def weights_of_rows(shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The backward of sum() and mean(-1) over (trials, rows): 1 / rows each, as autograd computes it."""
        if shape not in row_weights:
            trials, rows = shape
            each = torch.ones(()).expand(trials).unsqueeze(-1).expand(trials, rows).div(rows)
            row_weights[shape] = (each.unsqueeze(1), each.neg().unsqueeze(1))
        return row_weights[shape]

    @torch.no_grad()
    def set_gradients(inputs: torch.Tensor, labels: torch.Tensor) -> None:
        hidden = inputs.transpose(-1, -2)  # feature-major, as the model's forward
        if inputs.dim() == 2:
            hidden = hidden.contiguous().expand(model.n_trials, -1, -1)
        kept = [hidden.transpose(1, 2)]  # each layer's input, rows-major: what its weight's gradient multiplies
        outputs = []
        for number in range(len(weights)):
            if tanh[number]:  # tanh z = 2 sigmoid(2 z) - 1, with 2 z from the GEMM (exact, as in the forward)
                hidden = torch.baddbmm(biases[number], weights[number], hidden, beta=2, alpha=2)
                hidden = hidden.sigmoid_().mul_(two).sub_(one)
            else:
                hidden = torch.baddbmm(biases[number], weights[number], hidden)
            outputs.append(hidden)
            kept.append(hidden.transpose(1, 2))
        # loss = (logsumexp over classes - the label's logit).mean over rows, summed over trials
        logits = hidden
        scale, minus = weights_of_rows(labels.shape)
        gradient = scale * (logits - torch.logsumexp(logits, 1).unsqueeze(1)).exp()
        gradient.scatter_add_(1, labels.unsqueeze(1), minus)
        for number in range(len(weights) - 1, -1, -1):
            if tanh[number]:
                output = outputs[number]
                gradient = gradient * torch.sub(one, output * output)
            bias_grads[number].grad = gradient.sum(2)
            weights[number].grad = gradient.bmm(kept[number])
            if number:
                gradient = transposed[number].bmm(gradient)

    return set_gradients


summed_classification_loss.gradients = hand_gradients  # type: ignore[attr-defined]  # read by ``fit``
