"""Estimators of entropy and mutual information: numpy arrays in, numbers (bits by default) out.

``ESTIMATORS`` is the one registry: params validation, dispatch in ``estimate_layer``,
``ibpipe.information`` and the README's estimator list all read it. An estimator either
counts integer ``codes`` (the reduce stage's output) or works on the raw ``activations``.
Estimators of one ``family`` come out of one shared pass (both KDE bounds).

Every value leaves ``estimate_layer`` within its ceilings (0 <= I(X;T) <= H(X),
0 <= I(T;Y) <= H(Y) of the measured rows); ``capped`` says how many of the two crossed one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ibpipe.estimators.inputs import apply_ceilings, ceilings, class_labels
from ibpipe.estimators.kde import kde_information
from ibpipe.estimators.kde_mc import kde_mc_information
from ibpipe.estimators.knn import knn_information
from ibpipe.estimators.lga import lga_information
from ibpipe.estimators.plugin import plugin_information
from ibpipe.estimators.renyi import renyi_information
from ibpipe.estimators.sample_propagation import sample_propagation_information
from ibpipe.estimators.settings import EstimatorSettings, estimator_settings

QUANTITIES = ("H_T", "I_XT", "I_TY")


def unmeasured() -> dict[str, float]:
    """The result of a layer no estimate is defined for (non-finite values, no noisy passes): NaN
    quantities, nothing clipped."""
    return {**dict.fromkeys(QUANTITIES, np.nan), "capped": 0}


# A family reads the settings by their declared names; ``base`` (the log of the result's unit) and
# ``noise_std`` (a noisy network's noise, read from the activations store) are the run's, not settings.
Family = Callable[..., dict[str, dict[str, float]]]


def _plugin(codes, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    return {"plugin": plugin_information(codes, labels, x_ids, base=base)}


def _miller_madow(codes, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    return {"miller-madow": plugin_information(codes, labels, x_ids, miller_madow=True, base=base)}


def _kde_bounds(activations, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    bounds = kde_information(activations, labels, s.noise_variance, x_ids=x_ids, base=base)
    return {f"kde-{bound}": values for bound, values in bounds.items()}


def _kde_mc(activations, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    values = kde_mc_information(
        activations, labels, s.noise_variance, x_ids=x_ids, noise_draws=s.noise_draws, seed=s.seed, base=base
    )
    return {"kde-mc": values}


def _knn(activations, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    values = knn_information(
        activations, labels, s.noise_variance, s.n_neighbors, s.seed, x_ids=x_ids, noise_draws=s.noise_draws, base=base
    )
    return {"knn": values}


def _lga(activations, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    values = lga_information(activations, labels, s.noise_variance, s.lga_neighbors, s.seed, x_ids=x_ids, base=base)
    return {"lga": values}


def _renyi(activations, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    values = renyi_information(
        activations, labels, x_ids=x_ids, renyi_alpha=s.renyi_alpha, renyi_batch=s.renyi_batch, seed=s.seed, base=base
    )
    return {"renyi": values}


def _sample_propagation(pre_noise, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
    return {"sample-propagation": sample_propagation_information(pre_noise, labels, noise_std, x_ids, seed=s.seed)}


def _neural(objective: str) -> Family:
    def family(activations, labels, x_ids, s: EstimatorSettings, base: float, noise_std: float):
        from ibpipe.estimators.neural_layer import neural_layer_information  # torch only when asked for

        values = neural_layer_information(
            activations,
            labels,
            objective,
            s.noise_variance,
            steps=s.neural_steps,
            batch_size=s.neural_batch,
            seed=s.seed,
            base=base,
        )
        return {objective: values}

    return family


_NEURAL_CRITIC = (
    "a critic trained on (T, T + Z) for I(X;T) = I(T; T + Z) and on (T + Z, one-hot Y) for I(T;Y), at most "
    "neural_steps steps on batches of neural_batch rows, held-out estimate; no H(T)"
)


@dataclass(frozen=True)
class EstimatorInfo:
    needs: str  # "codes", "activations" or "pre_noise" (noiseless outputs of a noisy net, several draws per input)
    reference: str
    family: Family


ESTIMATORS = {
    "plugin": EstimatorInfo(
        "codes",
        "plug-in entropies of binned activations, I = H(A) + H(B) - H(A,B); "
        "Shwartz-Ziv & Tishby, arXiv:1703.00810 (2017)",
        _plugin,
    ),
    "miller-madow": EstimatorInfo(
        "codes",
        "plug-in with the Miller-Madow correction (m - 1)/(2N) on every entropy; "
        "Miller (1955), Paninski, Neural Comput. 15 (2003)",
        _miller_madow,
    ),
    "kde-upper": EstimatorInfo(
        "activations",
        "pairwise-distance KL upper bound on the entropy of T + N(0, s2 I); "
        "Kolchinsky & Tracey, Entropy 19:361 (2017); Saxe et al., ICLR (2018)",
        _kde_bounds,
    ),
    "kde-lower": EstimatorInfo(
        "activations",
        "pairwise-distance Bhattacharyya lower bound (8 s2 kernel); "
        "Kolchinsky & Tracey, Entropy 19:361 (2017); Saxe et al., ICLR (2018)",
        _kde_bounds,
    ),
    "kde-mc": EstimatorInfo(
        "activations",
        "Monte Carlo entropy of the Gaussian mixture T + N(0, s2 I) (sample propagation), "
        "h = -(1/(n n_mc)) sum_ij ln g(s_i + C_ij); Goldfeld et al., ICML (2019)",
        _kde_mc,
    ),
    "knn": EstimatorInfo(
        "activations",
        "Kozachenko-Leonenko entropy of T + N(0, s2 I) on several noise draws per input, I(X;T) from the "
        "same draws per input, Ross's mixed k-NN I(T;Y); Kozachenko & Leonenko (1987), Ross, PLoS ONE 9:e87357 (2014)",
        _knn,
    ),
    "lga": EstimatorInfo(
        "activations",
        "local Gaussian approximation: a local-likelihood Gaussian fit at every row of T + N(0, s2 I), entropies "
        "by resubstitution; Gao, Ver Steeg & Galstyan, UAI (2015)",
        _lga,
    ),
    "renyi": EstimatorInfo(
        "activations",
        "matrix-based Renyi alpha-entropy of Gram matrices in mini-batches; Giraldo, Rao & Principe, IEEE TIT 61 "
        "(2015); Wickstrom et al., arXiv:1909.11396 (2019); Yu et al., IEEE TNNLS 32 (2021)",
        _renyi,
    ),
    "infonce": EstimatorInfo(
        "activations",
        f"InfoNCE lower bound, never above log2 neural_batch bits; {_NEURAL_CRITIC}; van den Oord, Li & Vinyals, "
        "arXiv:1807.03748 (2018); Poole et al., ICML (2019)",
        _neural("infonce"),
    ),
    "nwj": EstimatorInfo(
        "activations",
        f"NWJ (f-divergence) lower bound, variance growing like e^I; {_NEURAL_CRITIC}; Nguyen, Wainwright & Jordan, "
        "IEEE TIT 56 (2010); Poole et al., ICML (2019)",
        _neural("nwj"),
    ),
    "mine": EstimatorInfo(
        "activations",
        f"MINE (Donsker-Varadhan) with the moving-average gradient correction; {_NEURAL_CRITIC}; Belghazi et al., "
        "ICML (2018)",
        _neural("mine"),
    ),
    "smile": EstimatorInfo(
        "activations",
        f"SMILE, the DV bound with e^f clipped to [e^-tau, e^tau]; {_NEURAL_CRITIC}; Song & Ermon, ICLR (2020)",
        _neural("smile"),
    ),
    "sample-propagation": EstimatorInfo(
        "pre_noise",
        "noisy networks (model.noise_std > 0): Monte Carlo entropy of the Gaussian mixture of the noiseless "
        "layer outputs, conditionals from repeated noisy passes; Goldfeld et al., ICML (2019)",
        _sample_propagation,
    ),
}

COUNTING_ESTIMATORS = tuple(name for name, info in ESTIMATORS.items() if info.needs == "codes")
# The variational bounds train two critics per call (seconds each) and give no H(T).
NEURAL_ESTIMATORS = ("infonce", "nwj", "mine", "smile")


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
    settings: EstimatorSettings | None = None,
    pre_noise: np.ndarray | None = None,
    noise_std: float = 0.0,
    base: float = 2.0,
    **overrides,
) -> dict[str, dict[str, float]]:
    """Run several estimators on one layer; ``{estimator: {H_T, I_XT, I_TY, capped}}``.

    Estimators of one family share one pass (the two KDE bounds). Every I(X;T) and I(T;Y)
    is clipped to [0, H(X)] and [0, H(Y)] of the measured rows; ``capped`` counts how many
    of the two crossed a ceiling (by more than rounding). ``settings``: any object carrying the
    ``EstimatorSettings`` (the estimate section is one); ``overrides`` replace some of them
    (e.g. ``noise_variance=1e-2``). ``noise_std``: a noisy network's noise (sample-propagation).
    """
    settings = estimator_settings(settings, **overrides)
    unknown = [name for name in estimators if name not in ESTIMATORS]
    if unknown:
        raise ValueError(f"unknown estimator(s) {unknown}; known: {', '.join(ESTIMATORS)}")
    for kind, given in (("codes", codes), ("activations", activations), ("pre_noise", pre_noise)):
        if needs(estimators, kind) and given is None:
            raise ValueError(f"estimators {list(estimators)} need {kind}")
    data = next(array for array in (codes, activations, pre_noise) if array is not None)
    labels = class_labels(labels, len(data))
    if x_ids is not None:
        x_ids = class_labels(x_ids, len(data), name="x_ids")
    limits = ceilings(labels, x_ids, base)
    results: dict[str, dict[str, float]] = {}
    for name in estimators:
        if name not in results:
            info = ESTIMATORS[name]
            layer = {"codes": codes, "activations": activations, "pre_noise": pre_noise}[info.needs]
            results.update(info.family(layer, labels, x_ids, settings, base, noise_std))
    bounded = {}
    for name in estimators:
        values, n_capped = apply_ceilings(results[name], limits)
        bounded[name] = {**values, "capped": n_capped}
    return bounded
