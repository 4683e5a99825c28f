"""``information(t, y)``: the public one-layer call, H(T), I(X;T) and I(T;Y) in bits."""

from __future__ import annotations

import warnings

import numpy as np

from ibpipe.estimators.binning import check_n_bins
from ibpipe.estimators.counting import count_states
from ibpipe.estimators.inputs import check_neighbours, class_labels, overflowing
from ibpipe.estimators.registry import ESTIMATORS, estimate_layer, unmeasured
from ibpipe.estimators.settings import estimator_settings


def information(
    t: np.ndarray,
    y: np.ndarray,
    estimator: str = "plugin",
    *,
    x_ids: np.ndarray | None = None,
    n_bins: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    bin_size: float | None = None,
    base: float = 2.0,
    **settings,
) -> dict[str, float]:
    """H(T), I(X;T) and I(T;Y) for one layer, in bits (``base`` 2) or nats (``base`` e).

    Parameters
    ----------
    t : (n_samples, n_units) activations; for the counting estimators (``plugin``,
        ``miller-madow``) integer (or boolean) codes are also accepted when no binning option is given.
    y : (n_samples,) class labels, integer or integral floats (one-hot: pass ``y.argmax(1)``).
    estimator : a name of ``ibpipe.estimators.registry.ESTIMATORS``.
    x_ids : (n_samples,) which distinct input each row came from; default: all rows distinct.
    n_bins, value_range : Tishby's bins, left edges ``linspace(*value_range, n_bins)``.
    bin_size : Saxe's bins, ``floor(t / bin_size)``.
    **settings : ``ibpipe.estimators.settings.EstimatorSettings`` by name (``noise_variance``,
        ``n_neighbors``, ``noise_draws``, ``renyi_alpha``, ``renyi_batch``, ``seed``), validated there.

    Returns ``{"H_T", "I_XT", "I_TY", "capped"}``: I_XT in [0, H(X)], I_TY in [0, H(Y)] of the rows
    given, ``capped`` how many of the two were clipped to a ceiling; NaN for all three (and one
    ``RuntimeWarning``) when ``t`` holds NaN or inf. Raises TypeError for an unknown setting (naming the
    closest), ValueError for an unknown estimator, no rows, labels that are not 1-D class indices, row
    counts that differ, float ``t`` for a counting estimator without binning, or a setting out of range.

    >>> info = information(np.array([[0], [1], [2], [3]]), np.array([0, 0, 1, 1]))
    >>> info["H_T"], info["I_TY"]
    (2.0, 1.0)
    """
    run = {"settings": estimator_settings(**settings), "x_ids": x_ids, "base": base}
    if n_bins is not None and bin_size is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    if n_bins is not None:
        check_n_bins(n_bins)
    t = _layer_array(t, estimator)
    y = class_labels(y, len(t), name="y")
    if t.dtype.kind == "f" and not np.all(np.isfinite(t)):
        bad = np.size(t) - np.count_nonzero(np.isfinite(t))
        message = f"t holds {bad} NaN or inf values (diverged training?): H(T), I(X;T), I(T;Y) are NaN"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return unmeasured()
    if ESTIMATORS[estimator].needs == "activations":
        if estimator == "knn":
            check_neighbours(run["settings"].n_neighbors, len(t), estimator)
        if largest := overflowing(t):
            message = (
                f"t holds values up to {largest:.3g}, whose squared distances overflow float64: H(T), I(X;T), I(T;Y) "
                f"by {estimator!r} are NaN; rescale t (divide it by its standard deviation)"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            return unmeasured()
        return estimate_layer((estimator,), y, activations=t.astype(np.float64), **run)[estimator]
    if n_bins is not None or bin_size is not None:  # bin and find the states in one compiled pass
        t = count_states(t, bin_size=bin_size, n_bins=n_bins, value_range=value_range).ids[:, None]
    elif t.dtype.kind == "f":
        raise ValueError("float activations need a binning option: n_bins (with value_range) or bin_size")
    return estimate_layer((estimator,), y, codes=t, **run)[estimator]


def _layer_array(t: np.ndarray, estimator: str) -> np.ndarray:
    """``t`` as a 2-D array of real numbers with rows (booleans as 0/1 codes), for a known one-layer estimator."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(ESTIMATORS)}")
    if ESTIMATORS[estimator].needs == "pre_noise":
        raise ValueError(
            f"{estimator!r} reads the noiseless outputs of repeated noisy passes, not one layer array: call "
            "ibpipe.estimators.sample_propagation.sample_propagation_information(draws, labels, noise_std)"
        )
    t = np.asarray(t)
    t = t.astype(np.uint8) if t.dtype == bool else t
    if t.dtype.kind not in "iuf":
        raise ValueError(f"t must hold real numbers, got dtype {t.dtype}")
    t = t[:, None] if t.ndim == 1 else t
    if t.ndim != 2:
        raise ValueError(f"t must be (n_samples, n_units), got shape {t.shape}")
    if len(t) == 0:
        raise ValueError("t has no rows: there is nothing to estimate")
    return t
