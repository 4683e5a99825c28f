"""Autoencoder entropy curves: for each code size d, train an MLP autoencoder and measure its codes.

The curve H(d) of the codes' entropy bends near the intrinsic dimension of the data, and the
correlation dimension of the codes rises to the data's own (REFERENCE-style method of the
project's roots). Per code size ``code_size_measures`` returns the held-out reconstruction
MSE and, in nats, the leave-one-out KDE entropy of the raw codes (``H_raw``), of the
standardised codes (``H_std``: the autoencoder leaves the code scale free, and differential
entropy shifts by ln|det A| under a linear map), the KDE upper bound on I(X; Z + noise) with
noise variance ``noise_factor`` x the mean code variance (``I_noise``: scale-free), and the
correlation dimension of the codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from torch import nn

from ibpipe import dimension
from ibpipe.estimators.kde import kde_information

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}
MEASURES = ("mse", "H_raw", "H_std", "I_noise", "corrdim_codes")


@dataclass(frozen=True)
class AutoencoderSettings:
    widths: tuple[int, ...] = (64, 32)
    activation: str = "elu"
    learning_rate: float = 1.0e-3
    batch_size: int = 128
    max_epochs: int = 2000
    patience: int = 200
    val_fraction: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class CodeMeasureSettings:
    bandwidth: str = "loo-ml"
    noise_factor: float = 0.1
    corr_q_low: float = 0.001
    corr_q_high: float = 0.05
    max_pairs: int = 500_000
    seed: int = 0


def settings_from_params(ae) -> tuple[AutoencoderSettings, CodeMeasureSettings]:
    """The training and measuring settings of a validated ``ae`` params section."""
    training = AutoencoderSettings(tuple(ae.widths), ae.activation, ae.learning_rate, ae.batch_size, ae.max_epochs, ae.patience, ae.val_fraction, ae.seed)
    return training, CodeMeasureSettings(ae.bandwidth, ae.noise_factor, ae.corr_q_low, ae.corr_q_high, ae.max_pairs, ae.seed)


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for position, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if position < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """D -> widths -> d (linear code) -> reversed widths -> D (linear reconstruction)."""

    def __init__(self, n_inputs: int, code_dim: int, widths: tuple[int, ...] = (64, 32), activation: str = "elu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"autoencoder activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
        self.encoder = _mlp([n_inputs, *widths, code_dim], activation)
        self.decoder = _mlp([code_dim, *reversed(widths), n_inputs], activation)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(inputs))


def split_rows(n_rows: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffled (train, validation) row indices."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_val = max(1, int(round(n_rows * val_fraction)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train_autoencoder(points: np.ndarray, code_dim: int, settings: AutoencoderSettings) -> tuple[Autoencoder, float, int]:
    """Adam on minibatches with early stopping on the validation MSE; returns (best model, its validation MSE, epochs run).

    Under-complete autoencoders sit on long loss plateaus, so ``patience`` epochs without a
    new best pass before stopping; the best weights are restored.
    """
    torch.manual_seed(settings.seed)
    data = torch.from_numpy(np.asarray(points, dtype=np.float32))
    train_rows, val_rows = split_rows(len(data), settings.val_fraction, settings.seed)
    train, val = data[train_rows], data[val_rows]
    model = Autoencoder(data.shape[1], code_dim, tuple(settings.widths), settings.activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    generator = torch.Generator().manual_seed(settings.seed)
    best, best_state, since_best, epoch = math.inf, None, 0, 0
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        shuffled = train[torch.randperm(len(train), generator=generator)]
        for start in range(0, len(shuffled), settings.batch_size):
            batch = shuffled[start : start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.mse_loss(model(batch), batch)
            loss.backward()
            optimizer.step()
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
    return model, best, epoch


@torch.no_grad()
def encode(model: Autoencoder, points: np.ndarray) -> np.ndarray:
    return model.encoder(torch.from_numpy(np.asarray(points, dtype=np.float32))).double().numpy()


def code_measures(codes: np.ndarray, settings: CodeMeasureSettings) -> dict[str, float]:
    """H_raw, H_std, I_noise (nats) and the correlation dimension of one code matrix (n_points, d)."""
    codes = np.asarray(codes, dtype=np.float64)
    noise_variance = settings.noise_factor * float(codes.var(axis=0).mean())
    if not noise_variance > 0:
        raise ValueError("the codes are constant: the autoencoder collapsed; raise ae.max_epochs or change ae.learning_rate")
    bounds = kde_information(codes, np.zeros(len(codes), dtype=np.int64), noise_variance)
    return {
        "H_raw": dimension.loo_kde_entropy(codes, settings.bandwidth),
        "H_std": dimension.loo_kde_entropy(codes, settings.bandwidth, standardised=True),
        "I_noise": bounds["upper"]["I_XT"] * math.log(2.0),
        "corrdim_codes": dimension.correlation_dimension(codes, settings.corr_q_low, settings.corr_q_high, max_pairs=settings.max_pairs, seed=settings.seed),
    }


def code_size_measures(code_dim: int, *, points: np.ndarray, training: AutoencoderSettings, measuring: CodeMeasureSettings) -> dict[str, float]:
    """The Dask task of one code size: train (seeded by the settings and d), encode every point, measure."""
    torch.set_num_threads(1)
    seeded = AutoencoderSettings(**{**training.__dict__, "seed": training.seed + code_dim})
    model, val_mse, epochs = train_autoencoder(points, code_dim, seeded)
    return {"mse": val_mse, "epochs": float(epochs), **code_measures(encode(model, points), measuring)}


def prepare_points(points: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Rows as float64 (n, features): duplicates merged (they collapse a leave-one-out bandwidth),
    at most ``max_rows`` kept (seeded), every feature standardised (constant ones only centred)."""
    points = np.unique(np.asarray(points, dtype=np.float64).reshape(len(points), -1), axis=0)
    if len(points) > max_rows:
        points = points[np.sort(np.random.default_rng(seed).choice(len(points), max_rows, replace=False))]
    return dimension.standardise(points)


CURVES = ("H_raw", "H_std", "I_noise")


def curve_dataset(code_dims: list[int], results: list[dict[str, float]], data_dimensions: dict[str, float], attrs: dict) -> xr.Dataset:
    """The curves over d as a Dataset, with the bend of each entropy curve and the MSE elbow in attrs.

    Bends are breakpoints of continuous two-segment fits (``dimension.two_segment_fit``); the
    MSE elbow is the bend of log10 MSE. With fewer than 3 code sizes they are NaN.
    """
    dims = np.asarray(code_dims)
    units = {"mse": ("1", "held-out reconstruction MSE of standardised features"), "epochs": ("epoch", "training epochs until early stopping")}
    units.update({name: ("nat", label) for name, label in (("H_raw", "LOO-KDE entropy of the codes"), ("H_std", "LOO-KDE entropy of the standardised codes"), ("I_noise", "KDE upper bound on I(X; Z + noise)"))})
    units["corrdim_codes"] = ("1", "correlation dimension of the codes")
    data = {name: ("d", np.array([result[name] for result in results]), {"units": unit, "long_name": label}) for name, (unit, label) in units.items()}
    dataset = xr.Dataset(data, coords={"d": ("d", dims, {"long_name": "code size"})})

    def bend(values: np.ndarray) -> float:
        return dimension.two_segment_fit(dims, values).breakpoint if len(dims) >= 3 and np.isfinite(values).all() else float("nan")

    dataset.attrs.update({f"bend_{name}": bend(dataset[name].values) for name in CURVES})
    dataset.attrs["mse_elbow"] = bend(np.log10(np.maximum(dataset.mse.values, np.finfo(float).tiny)))
    dataset.attrs.update(data_dimensions)
    dataset.attrs.update(attrs)
    return dataset


def entropy_curves(points: np.ndarray, dmax: int, training: AutoencoderSettings, measuring: CodeMeasureSettings, client, description: str | None = "ae-entropy") -> xr.Dataset:
    """The whole curve for prepared ``points``: one autoencoder per d = 1..dmax on the Dask ``client``
    (None: here, one after another), plus the points' own correlation and TwoNN dimensions."""
    from ibpipe.parallel import run_tasks

    if dmax > points.shape[1]:
        raise ValueError(f"ae.dmax = {dmax} exceeds the {points.shape[1]} features of the points; lower ae.dmax")
    # Larger codes train longest: submit them first so the workers finish together.
    order = list(range(dmax, 0, -1))
    results = run_tasks(client, code_size_measures, [(d,) for d in order], {"points": points, "training": training, "measuring": measuring}, description)
    by_dim = dict(zip(order, results))
    data_dimensions = {
        "corrdim_data": dimension.correlation_dimension(points, measuring.corr_q_low, measuring.corr_q_high, max_pairs=measuring.max_pairs, seed=measuring.seed),
        "nn_dim_data": dimension.twonn_dimension(points),
    }
    attrs = {"n_points": len(points), "n_features": points.shape[1], "nn_dim_method": "TwoNN (Facco et al. 2017)"}
    return curve_dataset(list(range(1, dmax + 1)), [by_dim[d] for d in range(1, dmax + 1)], data_dimensions, attrs)


# (manifold, ambient dimension D, k) of the validation run; REFERENCE-style cases.
VALIDATION_CASES = (("linear", 20, 5), ("swissroll", 10, 2), ("scurve", 10, 2), ("sphere", 10, 3))
VALIDATION_COLUMNS = ("bend_H_raw", "bend_H_std", "bend_I_noise", "mse_elbow", "corrdim_codes_dmax", "corrdim_data", "nn_dim_data")


def validate_on_manifolds(dmax: int, n_samples: int, noise: float, seed: int, training: AutoencoderSettings, measuring: CodeMeasureSettings, client) -> list[dict]:
    """Estimated against true dimension for every curve and estimator, one row per synthetic manifold."""
    from ibpipe.data.manifolds import make_manifold

    rows = []
    for name, ambient, k in VALIDATION_CASES:
        raw, true_dim = make_manifold(name, n_samples, ambient, k, noise, seed)
        curves = entropy_curves(prepare_points(raw, n_samples, seed), dmax, training, measuring, client, f"{name} in R^{ambient}")
        row = {"manifold": name, "D": ambient, "true_dim": true_dim}
        row.update({column: float(curves.attrs[column]) for column in VALIDATION_COLUMNS if column in curves.attrs})
        row["corrdim_codes_dmax"] = float(curves.corrdim_codes.values[-1])
        rows.append(row)
    return rows


def validation_markdown(rows: list[dict]) -> str:
    header = ["manifold", "D", "true_dim", *VALIDATION_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[key]:.2f}" if isinstance(row[key], float) else str(row[key]) for key in header) + " |")
    return "\n".join(lines) + "\n"
