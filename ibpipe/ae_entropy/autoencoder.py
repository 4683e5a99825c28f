"""Autoencoder entropy curves: for each code size d, train an MLP autoencoder and measure its codes.

The curve H(d) of the codes' entropy bends near the intrinsic dimension of the data, and the
correlation dimension of the codes rises to the data's own (Grassberger & Procaccia, Physica D 9,
1983; leave-one-out KDE entropy after Silverman, Density Estimation, 1986). Per code size
``ibpipe.ae_entropy.curves.code_sizes_measures`` returns the held-out reconstruction MSE and, in nats,
the leave-one-out KDE entropy of the raw codes (``H_raw``), of the standardised codes (``H_std``:
the autoencoder leaves the code scale free, and differential entropy shifts by ln|det A| under a
linear map), the KDE upper bound on I(X; Z + noise) with noise variance ``noise_factor`` x the
mean code variance (``I_noise``: scale-free), and the correlation dimension of the codes.

The autoencoders train as ``BatchedAutoencoder`` groups (``train_autoencoders``), each network as
its own single run (``train_autoencoder``) would train it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ibpipe.ae_entropy.params import AutoencoderSettings
from ibpipe.nn.activations import activation as get_activation
from ibpipe.nn.training import ADAM, Optimizer, fit


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for position, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        if position < len(sizes) - 2:
            layers.append(get_activation(activation).make())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """D -> widths -> d (linear code) -> reversed widths -> D (linear reconstruction)."""

    def __init__(self, n_inputs: int, code_dim: int, widths: tuple[int, ...] = (64, 32), activation: str = "elu"):
        super().__init__()
        get_activation(activation)  # unknown names fail here, before any layer is built
        self.encoder = _mlp([n_inputs, *widths, code_dim], activation)
        self.decoder = _mlp([code_dim, *reversed(widths), n_inputs], activation)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(inputs))


def split_rows(n_rows: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffled (train, validation) row indices."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_val = max(1, round(n_rows * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _reconstruction_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(model(batch), batch)


def train_autoencoder(
    points: np.ndarray, code_dim: int, settings: AutoencoderSettings
) -> tuple[Autoencoder, float, int]:
    """Adam on minibatches with early stopping on the validation MSE.

    Returns (best model, its validation MSE, epochs run). Under-complete autoencoders sit on long
    loss plateaus, so ``patience`` epochs without a new best pass before stopping; the best
    weights are restored.
    """
    torch.manual_seed(settings.seed)
    data = torch.from_numpy(np.asarray(points, dtype=np.float32))
    train_rows, val_rows = split_rows(len(data), settings.val_fraction, settings.seed)
    train, val = data[train_rows], data[val_rows]
    model = Autoencoder(data.shape[1], code_dim, tuple(settings.widths), settings.activation)
    generator = torch.Generator().manual_seed(settings.seed)
    best, best_state, since_best, epochs_run = math.inf, None, 0, 0
    epochs = fit(
        model,
        _reconstruction_loss,
        (train,),
        epochs=settings.max_epochs,
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        generator=generator,
    )
    for epoch in epochs:
        epochs_run = epoch
        model.eval()
        with torch.no_grad():
            val_mse = nn.functional.mse_loss(model(val), val).item()
        if val_mse < best * (1 - 1e-4):
            best, best_state, since_best = val_mse, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return model, best, epochs_run


@torch.no_grad()
def encode(model: Autoencoder, points: np.ndarray) -> np.ndarray:
    return model.encoder(torch.from_numpy(np.asarray(points, dtype=np.float32))).double().numpy()


# Early stopping keeps a new best only when the validation MSE falls by more than this share.
MIN_IMPROVEMENT = 1e-4


class BatchedAutoencoder(nn.Module):
    """S ``Autoencoder``s of one input size, widths and activation as one module, each with its own code size.

    Every dense layer runs as one ``torch.baddbmm`` on feature-major activations (S, features, rows),
    as ``ibpipe.nn.batched.BatchedMLP`` does for classifiers: a step of these small networks costs
    mostly fixed per-op overhead, paid here once for all S. Codes are padded to the largest code
    size and multiplied by a 0/1 mask, so network s has exactly ``code_dims[s]`` code units: the
    padded encoder rows and decoder columns start at zero and get zero gradient, and Adam leaves
    a zero-gradient parameter where it is. Parameters are built from the S single models
    (``Autoencoder``), so each network starts where its single run starts.
    """

    def __init__(self, models: list[Autoencoder], activation: str = "elu"):
        super().__init__()
        code_dims = [model.encoder[-1].out_features for model in models]
        width = max(code_dims)
        encoders = [[layer for layer in model.encoder if isinstance(layer, nn.Linear)] for model in models]
        decoders = [[layer for layer in model.decoder if isinstance(layer, nn.Linear)] for model in models]
        weights, biases = [], []
        for position in range(len(encoders[0])):
            weights.append([layers[position].weight.detach() for layers in encoders])
            biases.append([layers[position].bias.detach() for layers in encoders])
        # the code layer: rows (code units) padded with zeros
        weights[-1] = [nn.functional.pad(weight, (0, 0, 0, width - len(weight))) for weight in weights[-1]]
        biases[-1] = [nn.functional.pad(bias, (0, width - len(bias))) for bias in biases[-1]]
        self.n_encoder = len(weights)
        for position in range(len(decoders[0])):
            weights.append([layers[position].weight.detach() for layers in decoders])
            biases.append([layers[position].bias.detach() for layers in decoders])
        # the decoder's first layer: columns (code units) padded with zeros
        first = self.n_encoder
        weights[first] = [nn.functional.pad(weight, (0, width - weight.shape[1])) for weight in weights[first]]
        self.weights = nn.ParameterList([nn.Parameter(torch.stack(stack).contiguous()) for stack in weights])
        self.biases = nn.ParameterList([nn.Parameter(torch.stack(stack).unsqueeze(2).contiguous()) for stack in biases])
        self.nonlinearity = get_activation(activation).make()
        self.code_dims = code_dims
        self.register_buffer("code_mask", (torch.arange(width) < torch.tensor(code_dims)[:, None]).float()[..., None])

    @property
    def n_models(self) -> int:
        return len(self.code_dims)

    def _layers(self, hidden: torch.Tensor, positions: range) -> torch.Tensor:
        last = len(self.weights) - 1
        for position in positions:
            hidden = torch.baddbmm(self.biases[position], self.weights[position], hidden)
            if position == self.n_encoder - 1:
                hidden = hidden * self.code_mask
            elif position != last:
                hidden = self.nonlinearity(hidden)
        return hidden

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        """Feature-major codes (S, code width, rows) of feature-major inputs (S, features, rows)."""
        return self._layers(inputs, range(self.n_encoder))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Feature-major reconstructions (S, features, rows) of feature-major inputs (S, features, rows)."""
        return self._layers(inputs, range(len(self.weights)))

    def keep(self, kept: torch.Tensor) -> None:
        """Keep only the networks at positions ``kept`` (in place: the parameter objects stay, so an optimizer
        built on them steps on; its state must be cut the same way, ``_cut_state``)."""
        for parameter in (*self.weights, *self.biases):
            parameter.data = parameter.data[kept].contiguous()
        self.code_mask = self.code_mask[kept]
        self.code_dims = [self.code_dims[position] for position in kept.tolist()]


def _mean_squared_errors(model: BatchedAutoencoder, inputs: torch.Tensor) -> torch.Tensor:
    """Per network (S,), the mean squared reconstruction error of feature-major inputs (S, features, rows)."""
    return (model(inputs) - inputs).square().mean((1, 2))


@dataclass(frozen=True)
class _KeptOptimizer(Optimizer):
    """The optimiser of ``fit``, remembering the torch optimiser it builds, so its state can follow a cut model."""

    built: list = field(default_factory=list, compare=False)

    def build(self, parameters, learning_rate: float, fused: bool | None = None) -> torch.optim.Optimizer:
        step_rule = super().build(parameters, learning_rate, fused)
        self.built.append(step_rule)
        return step_rule


def _cut_state(step_rule: torch.optim.Optimizer, kept: torch.Tensor) -> None:
    """Cut the per-network state (Adam's moments: a leading network axis) to the networks at ``kept``."""
    for state in step_rule.state.values():
        for name, value in state.items():
            if torch.is_tensor(value) and value.dim() > 0:
                state[name] = value[kept].contiguous()


def train_autoencoders(
    points: np.ndarray, code_dims: list[int], seeds: list[int], settings: AutoencoderSettings
) -> tuple[BatchedAutoencoder, np.ndarray, np.ndarray]:
    """``train_autoencoder`` for S networks at once: network s has code size ``code_dims[s]`` and is trained as
    ``train_autoencoder(points, code_dims[s], settings)`` with seed ``seeds[s]`` trains it (its own initial
    weights, split, batch order and early stopping), as one ``BatchedAutoencoder`` in ``fit``.

    Returns (the model with each network's best weights, best validation MSEs (S,), epochs run (S,)).
    Agreement with the single runs is to float rounding (batched kernels sum in another order), which
    thousands of epochs amplify to ~1e-3 relative in the MSE; early stopping may then end a network an
    epoch or a few apart. A network that stops leaves the batch (its weights, Adam moments and
    generator are cut out between epochs), so the batch shrinks to the networks still improving.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the small batched GEMMs run several times slower split over threads
    try:
        return _train_autoencoders(points, code_dims, seeds, settings)
    finally:
        torch.set_num_threads(threads)


def _train_autoencoders(
    points: np.ndarray, code_dims: list[int], seeds: list[int], settings: AutoencoderSettings
) -> tuple[BatchedAutoencoder, np.ndarray, np.ndarray]:
    data = torch.from_numpy(np.asarray(points, dtype=np.float32))
    models, splits = [], []
    for code_dim, seed in zip(code_dims, seeds):
        torch.manual_seed(seed)
        models.append(Autoencoder(data.shape[1], code_dim, tuple(settings.widths), settings.activation))
        splits.append(split_rows(len(data), settings.val_fraction, seed))
    model = BatchedAutoencoder(models, settings.activation)
    n_models = model.n_models
    train_rows = torch.from_numpy(np.stack([train for train, _ in splits]))  # (S, n_train)
    val = data[torch.from_numpy(np.stack([val for _, val in splits]))].transpose(1, 2)  # (S, features, n_val)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    active = torch.arange(n_models)  # original index of each network still in the batch
    rows = {"train": train_rows}

    def summed_loss(batch_model: BatchedAutoencoder, positions: torch.Tensor) -> torch.Tensor:
        # positions (S, batch) into each network's own training rows: the rows its single run's batch holds
        batch = data[rows["train"].gather(1, positions)].transpose(1, 2)
        # the sum of the networks' mean losses: each network gets exactly the gradient of its single run
        return _mean_squared_errors(batch_model, batch).sum()

    optimizer = _KeptOptimizer(ADAM.name, ADAM.momentum, ADAM.weight_decay)
    best = np.full(n_models, math.inf)
    since_best = np.zeros(n_models, dtype=np.int64)
    epochs_run = np.zeros(n_models, dtype=np.int64)
    best_state = {name: value.detach().clone() for name, value in model.state_dict().items()}
    epochs = fit(
        model,
        summed_loss,
        (torch.arange(train_rows.shape[1]),),
        epochs=settings.max_epochs,
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        generator=generators,
        optimizer=optimizer,
    )
    for epoch in epochs:
        index = active.numpy()
        epochs_run[index] = epoch
        model.eval()
        with torch.no_grad():
            val_mse = _mean_squared_errors(model, val[active]).double().numpy()
        improved = val_mse < best[index] * (1 - MIN_IMPROVEMENT)
        if improved.any():
            state = model.state_dict()
            for name, value in best_state.items():
                value[active[improved]] = state[name][improved]
            best[index[improved]] = val_mse[improved]
        since_best[index] = np.where(improved, 0, since_best[index] + 1)
        going = torch.from_numpy(since_best[index] < settings.patience)
        if not going.any():
            break
        if not going.all():
            kept = torch.nonzero(going).squeeze(1)
            model.keep(kept)
            _cut_state(optimizer.built[0], kept)
            rows["train"] = rows["train"][kept]
            generators[:] = [generators[position] for position in kept.tolist()]
            active = active[kept]
    final = BatchedAutoencoder(models, settings.activation)
    final.load_state_dict(best_state)
    final.eval()
    return final, best, epochs_run


@torch.no_grad()
def encode_batched(model: BatchedAutoencoder, points: np.ndarray) -> list[np.ndarray]:
    """The codes of every point under each network of ``model``: (n_points, code_dims[s]) float64 per network."""
    inputs = torch.from_numpy(np.asarray(points, dtype=np.float32)).T.expand(model.n_models, -1, -1)
    codes = model.encode(inputs).double().numpy()
    return [codes[s, :code_dim].T.copy() for s, code_dim in enumerate(model.code_dims)]
