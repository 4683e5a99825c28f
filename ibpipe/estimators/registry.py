"""Estimators of entropy and mutual information: numpy arrays in, numbers in bits out.

``ESTIMATORS`` is the one registry: params validation, the estimate stage and
``ibpipe.information`` all read it. An estimator either counts integer ``codes`` (the
reduce stage's output) or works on the raw ``activations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ibpipe.estimators.kde import kde_information
from ibpipe.estimators.knn import knn_information
from ibpipe.estimators.plugin import miller_madow_information, plugin_information
from ibpipe.estimators.sample_propagation import sample_propagation_information

QUANTITIES = ("H_T", "I_XT", "I_TY")


@dataclass(frozen=True)
class EstimatorInfo:
    needs: str  # "codes", "activations" or "noise_draws" (pre-noise outputs of a noisy net, several per input)
    reference: str


ESTIMATORS = {
    "plugin": EstimatorInfo(
        "codes",
        "plug-in entropies of binned activations, I = H(A) + H(B) - H(A,B); "
        "Shwartz-Ziv & Tishby, arXiv:1703.00810 (2017)",
    ),
    "miller-madow": EstimatorInfo(
        "codes",
        "plug-in with the Miller-Madow correction (m - 1)/(2N) on every entropy; "
        "Miller (1955), Paninski, Neural Comput. 15 (2003)",
    ),
    "kde-upper": EstimatorInfo(
        "activations",
        "pairwise-distance KL upper bound on the entropy of T + N(0, s2 I); "
        "Kolchinsky & Tracey, Entropy 19:361 (2017); Saxe et al., ICLR (2018)",
    ),
    "kde-lower": EstimatorInfo(
        "activations",
        "pairwise-distance Bhattacharyya lower bound (8 s2 kernel); "
        "Kolchinsky & Tracey, Entropy 19:361 (2017); Saxe et al., ICLR (2018)",
    ),
    "knn": EstimatorInfo(
        "activations",
        "Kozachenko-Leonenko entropy of T + N(0, s2 I) and Ross's mixed k-NN I(T;Y); "
        "Kozachenko & Leonenko (1987), Ross, PLoS ONE 9:e87357 (2014)",
    ),
    "sample-propagation": EstimatorInfo(
        "noise_draws",
        "noisy networks (model.noise_std > 0): Monte Carlo entropy of the Gaussian mixture of the noiseless "
        "layer outputs, conditionals from repeated noisy passes; Goldfeld et al., ICML (2019)",
    ),
}

COUNTING_ESTIMATORS = tuple(name for name, info in ESTIMATORS.items() if info.needs == "codes")


def needs(estimators: Sequence[str], kind: str) -> bool:
    """Whether any of ``estimators`` reads ``kind`` ("codes" or "activations")."""
    return any(ESTIMATORS[name].needs == kind for name in estimators)


def estimate_layer(
    estimators: Sequence[str],
    labels: np.ndarray,
    *,
    codes: np.ndarray | None = None,
    activations: np.ndarray | None = None,
    x_ids: np.ndarray | None = None,
    noise_variance: float = 1.0e-3,
    n_neighbors: int = 3,
    random_state: int = 0,
    noise_draws: np.ndarray | None = None,
    noise_std: float = 0.0,
) -> dict[str, dict[str, float]]:
    """Run several estimators on one layer; ``{estimator: {quantity: bits}}``.

    The two KDE bounds share one pass over the pairwise distances. Activation-based
    estimators treat every row as one sample of X mapped deterministically to T, so
    ``x_ids`` (repeated inputs) only matters to the counting estimators.
    """
    unknown = [name for name in estimators if name not in ESTIMATORS]
    if unknown:
        raise ValueError(f"unknown estimator(s) {unknown}; known: {', '.join(ESTIMATORS)}")
    for kind, given in (("codes", codes), ("activations", activations), ("noise_draws", noise_draws)):
        if needs(estimators, kind) and given is None:
            raise ValueError(f"estimators {list(estimators)} need {kind}")
    results: dict[str, dict[str, float]] = {}
    if "plugin" in estimators:
        results["plugin"] = plugin_information(codes, labels, x_ids)
    if "miller-madow" in estimators:
        results["miller-madow"] = miller_madow_information(codes, labels, x_ids)
    if "kde-upper" in estimators or "kde-lower" in estimators:
        bounds = kde_information(activations, labels, noise_variance)
        results.update({f"kde-{bound}": values for bound, values in bounds.items() if f"kde-{bound}" in estimators})
    if "knn" in estimators:
        results["knn"] = knn_information(activations, labels, noise_variance, n_neighbors, random_state)
    if "sample-propagation" in estimators:
        results["sample-propagation"] = sample_propagation_information(
            noise_draws, labels, noise_std, x_ids, random_state=random_state
        )
    return {name: results[name] for name in estimators}
