"""Autoencoder entropy curves: for each code size d, train an MLP autoencoder and measure its codes.

The curve H(d) of the codes' entropy bends near the intrinsic dimension of the data, and the
correlation dimension of the codes rises to the data's own (Grassberger & Procaccia, Physica D 9,
1983; leave-one-out KDE entropy after Silverman, Density Estimation, 1986). Per code size
``code_size_measures`` returns the held-out reconstruction MSE and, in nats, the leave-one-out
KDE entropy of the raw codes (``H_raw``), of the
standardised codes (``H_std``: the autoencoder leaves the code scale free, and differential
entropy shifts by ln|det A| under a linear map), the KDE upper bound on I(X; Z + noise) with
noise variance ``noise_factor`` x the mean code variance (``I_noise``: scale-free), and the
correlation dimension of the codes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

from ibpipe.ae_entropy.params import AutoencoderSettings
from ibpipe.nn.activations import activation as get_activation
from ibpipe.nn.training import fit


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
