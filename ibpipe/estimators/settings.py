"""The settings the estimators read, each declared once: constraint, default, unit and doc.

The ``estimate`` section of params.yaml is built on these, and ``ibpipe.information`` takes them
as keyword arguments under the same names.
"""

from __future__ import annotations

import difflib

from ibpipe.schema import Settings, setting


class EstimatorSettings(Settings):
    """Settings every estimator may read (each reads only its own)."""

    noise_variance: float = setting(
        1.0e-3,
        "s2 of the Gaussian noise added to T by kde-*, knn, lga and the neural bounds",
        unit="activation units squared",
        gt=0,
    )
    n_neighbors: int = setting(3, "k of the knn estimator", ge=1, le=1000)
    noise_draws: int = setting(8, "noise draws per row of kde-mc and knn (knn uses at least k + 1)", ge=1, le=1000)
    lga_neighbors: int = setting(
        30, "effective neighbours of each local Gaussian fit of lga (its kernel bandwidth); well above the width", ge=2
    )
    renyi_alpha: float = setting(1.01, "alpha of the matrix-based Renyi entropy (renyi)", gt=0)
    renyi_batch: int = setting(
        256, "rows per mini-batch of renyi (every quantity <= log2 of it)", unit="rows", ge=2, le=100_000
    )
    neural_steps: int = setting(
        300,
        "most optimiser steps of each critic of infonce, nwj, mine and smile: two critics (I(X;T), I(T;Y)) per "
        "(epoch, layer), each stopping early on its held-out split; their time budget",
        unit="steps",
        ge=1,
        le=1_000_000,
    )
    neural_batch: int = setting(
        128, "rows per batch K of infonce, nwj, mine and smile (infonce never exceeds log2 K)", unit="rows", ge=2
    )
    seed: int = setting(
        0, "seed of bootstrap resampling and of the noise of kde-mc, knn, lga, renyi and the neural bounds", ge=0
    )


def default(name: str):
    """The declared default of one setting (estimator functions' keyword defaults read it here)."""
    return EstimatorSettings.model_fields[name].default


def estimator_settings(source: object = None, **values: object) -> EstimatorSettings:
    """Validated settings: those of ``source`` (any object with the settings as attributes, such as the
    estimate section) with ``values`` over them. An unknown name raises TypeError with the closest names."""
    unknown = [name for name in values if name not in EstimatorSettings.model_fields]
    if unknown:
        hints = [f"{name!r}{_did_you_mean(name)}" for name in unknown]
        raise TypeError(
            f"unknown estimator setting(s) {', '.join(hints)}; known: {', '.join(EstimatorSettings.model_fields)}"
        )
    own = {name: getattr(source, name) for name in EstimatorSettings.model_fields if hasattr(source, name)}
    return EstimatorSettings(**{**own, **values})


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, EstimatorSettings.model_fields, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
