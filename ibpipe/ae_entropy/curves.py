"""Entropy curves over code size d: per d and restart an autoencoder (trained in batched groups, a Dask task
each), the entropy and dimension of its codes, the bends of the curves."""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from ibpipe.ae_entropy.autoencoder import encode_batched, train_autoencoders
from ibpipe.ae_entropy.params import AutoencoderSettings, CodeMeasureSettings
from ibpipe.ae_entropy.scaling import correlation_curve
from ibpipe.dimension.bends import two_segment_fit
from ibpipe.dimension.correlation import correlation_dimension
from ibpipe.dimension.loo_kde import loo_kde_entropy, monte_carlo_entropy
from ibpipe.dimension.twonn import twonn_dimension
from ibpipe.errors import InputError
from ibpipe.estimators.kde import kde_information

# Key of a code_measures result holding its correlation_curve arrays (not a number per code size).
CORRELATION_CURVE = "correlation_curve"


def monte_carlo_split(n_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the reference half and of the held-out half of the Monte Carlo entropy (seeded, disjoint)."""
    order = np.random.default_rng(seed).permutation(n_points)
    return np.sort(order[: n_points // 2]), np.sort(order[n_points // 2 :])


def code_measures(codes: np.ndarray, settings: CodeMeasureSettings) -> dict:
    """H_raw, H_std, H_mc, I_noise (nats) and the correlation dimension of one code matrix (n_points, d), and the
    correlation integral behind that dimension (``correlation_curve``, under ``CORRELATION_CURVE``).

    H_mc is the Monte Carlo entropy: -mean ln p_hat(z) over a held-out half of the codes, p_hat the KDE of
    the other half (bandwidth chosen on it), beside the leave-one-out H_raw on all codes."""
    codes = np.asarray(codes, dtype=np.float64)
    noise_variance = settings.noise_factor * float(codes.var(axis=0).mean())
    if not noise_variance > 0:
        raise InputError(
            "the codes are constant: the autoencoder collapsed; raise ae.max_epochs or change ae.learning_rate"
        )
    bounds = kde_information(codes, np.zeros(len(codes), dtype=np.int64), noise_variance)
    reference, held_out = monte_carlo_split(len(codes), settings.seed)
    curve = correlation_curve(
        codes, settings.corr_q_low, settings.corr_q_high, max_pairs=settings.max_pairs, seed=settings.seed
    )
    return {
        "H_raw": loo_kde_entropy(codes, settings.bandwidth),
        "H_std": loo_kde_entropy(codes, settings.bandwidth, standardised=True),
        "H_mc": monte_carlo_entropy(codes[reference], codes[held_out], settings.bandwidth),
        "I_noise": bounds["upper"]["I_XT"] * math.log(2.0),
        "corrdim_codes": float(curve["fit_line"][0]),
        CORRELATION_CURVE: curve,
    }


# Restart r of code size d is seeded ae.seed + d + RESTART_SEED_STEP * r: restart 0 is the single run of before.
RESTART_SEED_STEP = 1000


def restart_seed(seed: int, code_dim: int, restart: int) -> int:
    """The seed of restart ``restart`` of code size ``code_dim``: ``seed + d + RESTART_SEED_STEP * restart``."""
    return seed + code_dim + RESTART_SEED_STEP * restart


def code_sizes_measures(
    runs: list[tuple[int, int]],
    *,
    points: np.ndarray,
    training: AutoencoderSettings,
    measuring: CodeMeasureSettings,
) -> list[dict[str, float]]:
    """The Dask task of a group of (code size, restart) runs: train their autoencoders as one batched model
    (``train_autoencoders``; each seeded by ``restart_seed``, as its own single run would be), encode every
    point, measure each network's codes. One dict per run, in order."""
    torch.set_num_threads(1)
    code_dims = [code_dim for code_dim, _ in runs]
    seeds = [restart_seed(training.seed, code_dim, restart) for code_dim, restart in runs]
    model, val_mse, epochs = train_autoencoders(points, code_dims, seeds, training)
    return [
        {"mse": float(mse), "epochs": float(epoch), **code_measures(codes, measuring)}
        for mse, epoch, codes in zip(val_mse, epochs, encode_batched(model, points))
    ]


def run_groups(runs: list[tuple[int, int]], n_groups: int) -> list[list[tuple[int, int]]]:
    """``runs`` dealt round-robin into at most ``n_groups`` non-empty groups: with runs sorted by code size, each
    group gets a like mix of long (large d) and short trainings, so the groups finish together."""
    n_groups = max(1, min(n_groups, len(runs)))
    return [runs[start::n_groups] for start in range(n_groups)]


CURVES = ("H_raw", "H_std", "H_mc", "I_noise")


def best_restarts(restarts: list[list[dict[str, float]]]) -> tuple[list[dict[str, float]], list[int]]:
    """Per code size (outer list), the restart with the lowest held-out MSE (NaN MSEs lose), and its index."""
    best = [int(np.argmin([r["mse"] if np.isfinite(r["mse"]) else np.inf for r in runs])) for runs in restarts]
    return [runs[index] for runs, index in zip(restarts, best)], best


def curve_dataset(
    code_dims: list[int],
    results: list[dict[str, float]] | list[list[dict[str, float]]],
    data_dimensions: dict[str, float],
    attrs: dict,
) -> xr.Dataset:
    """The curves over d as a Dataset, with the bend of each entropy curve and the MSE elbow in attrs.

    ``results``: one dict per code size, or per code size a list of restarts. With restarts the (d,)
    variables hold the restart with the best held-out MSE (the bends are taken on it), ``best_restart``
    (d,) says which, and ``<measure>_restarts`` (d, restart) hold every restart (for mean +- sd bands).
    Bends are breakpoints of continuous two-segment fits (``two_segment_fit``); the
    MSE elbow is the bend of log10 MSE. With fewer than 3 code sizes they are NaN.
    """
    restarts = [runs if isinstance(runs, list) else [runs] for runs in results]
    results, best = best_restarts(restarts)
    dims = np.asarray(code_dims)
    units = {
        "mse": ("1", "held-out reconstruction MSE of standardised features"),
        "epochs": ("epoch", "training epochs until early stopping"),
    }
    units.update(
        {
            name: ("nat", label)
            for name, label in (
                ("H_raw", "LOO-KDE entropy of the codes"),
                ("H_std", "LOO-KDE entropy of the standardised codes"),
                ("H_mc", "Monte Carlo KDE entropy of the codes: -mean ln p_hat over a held-out half"),
                ("I_noise", "KDE upper bound on I(X; Z + noise)"),
            )
        }
    )
    units["corrdim_codes"] = ("1", "correlation dimension of the codes")
    units = {name: unit for name, unit in units.items() if name in results[0]}
    data = {
        name: ("d", np.array([result[name] for result in results]), {"units": unit, "long_name": label})
        for name, (unit, label) in units.items()
    }
    if len(restarts[0]) > 1:
        for name, (unit, label) in units.items():
            values = np.array([[run[name] for run in runs] for runs in restarts])
            data[f"{name}_restarts"] = (
                ("d", "restart"),
                values,
                {"units": unit, "long_name": f"{label}, every restart"},
            )
        data["best_restart"] = ("d", np.asarray(best), {"long_name": "restart with the lowest held-out MSE"})
    dataset = xr.Dataset(data, coords={"d": ("d", dims, {"long_name": "code size"})})
    if CORRELATION_CURVE in results[0]:
        dataset = dataset.assign(correlation_curve_variables([result[CORRELATION_CURVE] for result in results]))

    def bend(values: np.ndarray) -> float:
        return (
            two_segment_fit(dims, values).breakpoint if len(dims) >= 3 and np.isfinite(values).all() else float("nan")
        )

    dataset.attrs.update({f"bend_{name}": bend(dataset[name].values) for name in CURVES if name in dataset})
    dataset.attrs["mse_elbow"] = bend(np.log10(np.maximum(dataset.mse.values, np.finfo(float).tiny)))
    dataset.attrs.update(data_dimensions)
    dataset.attrs.update(attrs)
    return dataset


def curve_metrics(curves: xr.Dataset) -> dict[str, float | None]:
    """The DVC metric of the autoencoder curves (reports/ae_entropy.json): ``bend_H_std``, the code size where
    the standardised codes' entropy bends, the curve's estimate of the points' dimension (None when NaN).

    One column, so that `dvc metrics show` fits a terminal beside the other experiments' files; the
    other bends, the MSE elbow and the data's own dimensions stay in ae_entropy.nc's attrs.
    """
    value = float(curves.attrs["bend_H_std"])
    return {"bend_H_std": round(value, 3) if math.isfinite(value) else None}


def correlation_curve_variables(curves: list[dict[str, np.ndarray]]) -> dict[str, tuple]:
    """The (d, radius) curves ``ln_r``, ``ln_C`` and the (d, bound) fitted range ``fit_ln_r`` and line ``fit_line``
    of each code size's correlation integral (``correlation_curve``), as Dataset variables."""
    return {
        "ln_r": (
            ("d", "radius"),
            np.stack([curve["ln_r"] for curve in curves]),
            {"long_name": "ln r, r a pair distance"},
        ),
        "ln_C": (
            ("d", "radius"),
            np.stack([curve["ln_C"] for curve in curves]),
            {"long_name": "ln C(r), C(r) the share of code pairs closer than r"},
        ),
        "fit_ln_r": (
            ("d", "bound"),
            np.stack([curve["fit_ln_r"] for curve in curves]),
            {"long_name": "ln r at the ends of the fitted scaling range (pair-distance quantiles)"},
        ),
        "fit_line": (
            ("d", "coefficient"),
            np.stack([curve["fit_line"] for curve in curves]),
            {"long_name": "slope and intercept of the line fitted to ln C on ln r in the scaling range"},
        ),
    }


def entropy_curves(
    points: np.ndarray,
    dmax: int,
    training: AutoencoderSettings,
    measuring: CodeMeasureSettings,
    client,
    description: str | None = "ae-entropy",
    restarts: int = 1,
) -> xr.Dataset:
    """The whole curve for prepared ``points``: ``restarts`` autoencoders per d = 1..dmax on the Dask
    ``client`` (None: here), plus the points' own correlation and TwoNN dimensions.

    The autoencoders train as batched models (``code_sizes_measures``), one group per Dask worker: a
    step of these small networks costs mostly per-op overhead, which a group pays once for all its
    networks. Each network trains as its own single run would (seed, split, batches, early stopping).
    """
    from ibpipe.parallel import run_tasks

    if dmax > points.shape[1]:
        raise InputError(f"ae.dmax = {dmax} exceeds the {points.shape[1]} features of the points; lower ae.dmax")
    order = [(d, restart) for d in range(dmax, 0, -1) for restart in range(restarts)]
    n_workers = 1 if client is None else len(client.scheduler_info()["workers"])
    groups = run_groups(order, n_workers)
    results = run_tasks(
        client,
        code_sizes_measures,
        [(group,) for group in groups],
        {"points": points, "training": training, "measuring": measuring},
        description,
    )
    by_task = {run: result for group, measured in zip(groups, results) for run, result in zip(group, measured)}
    by_dim = {d: [by_task[d, restart] for restart in range(restarts)] for d in range(1, dmax + 1)}
    data_dimensions = {
        "corrdim_data": correlation_dimension(
            points, measuring.corr_q_low, measuring.corr_q_high, max_pairs=measuring.max_pairs, seed=measuring.seed
        ),
        "nn_dim_data": twonn_dimension(points),
    }
    attrs = {
        "n_points": len(points),
        "n_features": points.shape[1],
        "nn_dim_method": "TwoNN (Facco et al. 2017)",
        "restarts": restarts,
    }
    return curve_dataset(list(range(1, dmax + 1)), [by_dim[d] for d in range(1, dmax + 1)], data_dimensions, attrs)
