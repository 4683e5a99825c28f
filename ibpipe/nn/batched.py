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
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ibpipe.nn.mlp import MLP
from ibpipe.nn.training import cross_entropy


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

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = inputs.transpose(-1, -2)
        if inputs.dim() == 2:
            hidden = hidden.contiguous().expand(self.n_trials, -1, -1)
        for step in self._steps:
            hidden = step.forward(hidden)
        return hidden.transpose(1, 2)


def summed_classification_loss(model: BatchedMLP, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over the S networks of each one's mean cross-entropy, labels (S, rows): every network gets
    exactly the gradient of its own single run.

    The loss reads the logits in the model's own layout, (S, classes, rows): the gradients then reach
    the batched GEMMs contiguous (through the (S, rows, classes) view they would arrive strided, and
    the weights would differ from the ones before this module was a ``fit`` model in the last bits).
    """
    return cross_entropy(model(inputs).transpose(1, 2), labels, dim=1).mean(-1).sum()
