"""``mutual_information(a, b)`` and ``entropy(a)``: any two variables, not only a layer against its labels.

Arrays are (n,) or (n, d); rows are samples. Integer (or boolean) arrays are codes: a (n, d) row of
codes is one joint symbol. Floats are continuous values. ``estimator="auto"`` chooses by the dtypes:

    both integer       -> plugin   (counts: I = H(A) + H(B) - H(A,B))
    both float         -> ksg      (Kraskov, Stoegbauer & Grassberger 2004, estimator 1)
    one of each        -> mixed    (Gao, Kannan, Oh & Viswanath 2017)

Estimators of I(A;B) (``MI_ESTIMATORS``): ``plugin`` and ``miller-madow`` (codes on both sides),
``ksg`` and ``ksg2`` (continuous pairs, max-norm), ``lga`` (continuous pairs, local Gaussian
approximation, Gao, Ver Steeg & Galstyan 2015; option ``lga_neighbors``), ``mixed`` (any pair,
discrete parts or atoms included), ``ross`` (continuous A, discrete B; Ross 2014, what scikit-learn's
``mutual_info_classif`` computes); the pipeline's activation estimators (``kde-upper``,
``kde-lower``, ``kde-mc``, ``knn``, ``renyi``) as I(T;Y) with T continuous and Y a 1-D integer
label; and the neural bounds ``infonce``, ``nwj``, ``mine``, ``smile`` (``ibpipe.estimators.neural``).
Estimators of H(A) (``ENTROPY_ESTIMATORS``): ``plugin``, ``miller-madow`` (codes), ``kl``
(Kozachenko-Leonenko, continuous), ``lga`` (local Gaussian approximation), ``kde`` (leave-one-out
Gaussian KDE, bandwidth by maximum likelihood) and the pipeline's ``kde-upper``, ``kde-lower``,
``kde-mc``, ``knn``, ``renyi`` as H(T).
I(A;B) is symmetric: a pair given as (discrete, continuous) is measured as (continuous, discrete).

Policy, as ``ibpipe.information``: a non-finite float input gives a NaN result and one
``RuntimeWarning`` naming the estimator; every mutual information is clipped to
[0, H of a discrete side] (``capped`` says it was; continuous pairs have only the floor 0).
Mismatched rows, ``n_neighbors >= n``, non-numeric input, an estimator that does not apply to the
dtypes: a one-sentence ``ValueError``.

Intervals (``interval=0.95``): the counting estimators resample rows with replacement (basic
bootstrap); the k-NN and KDE estimators, which a repeated row would hand a zero distance, use
half-samples without replacement (subsampling, Politis & Romano 1994), their spread scaled by
sqrt(m / n). Both are seeded, and both describe sampling variability only, not estimator bias.

References: A. Kraskov, H. Stoegbauer & P. Grassberger, Phys. Rev. E 69:066138 (2004); W. Gao,
S. Kannan, S. Oh & P. Viswanath, "Estimating mutual information for discrete-continuous mixtures",
NeurIPS (2017); B. C. Ross, PLoS ONE 9(2):e87357 (2014); L. F. Kozachenko & N. N. Leonenko,
Problems Inform. Transmission 23 (1987); G. A. Miller (1955); D. N. Politis & J. P. Romano,
Ann. Statist. 22(4) (1994).
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ibpipe.estimators import knn as knn_estimators
from ibpipe.estimators.inputs import check_neighbours, overflowing
from ibpipe.estimators.lga import lga_entropy_nats, lga_information_nats
from ibpipe.estimators.plugin import entropy_bits, mutual_information_bits
from ibpipe.units import LN2, from_bits

PIPELINE_ESTIMATORS = ("kde-upper", "kde-lower", "kde-mc", "knn", "renyi")
NEURAL_ESTIMATORS = ("infonce", "nwj", "mine", "smile")
MI_ESTIMATORS = ("auto", "plugin", "miller-madow", "ksg", "ksg2", "mixed", "ross", "lga", *PIPELINE_ESTIMATORS)
MI_ESTIMATORS += NEURAL_ESTIMATORS
ENTROPY_ESTIMATORS = ("auto", "plugin", "miller-madow", "kl", "kde", "lga", *PIPELINE_ESTIMATORS)
COUNTING = ("plugin", "miller-madow")
_UNITS = {2.0: "bits", math.e: "nats", 10.0: "bans"}


@dataclass(frozen=True)
class Estimate:
    """One estimated information quantity: ``float(result)`` is ``value``.

    ``value`` in ``unit`` (bits unless ``base`` said otherwise); ``estimator`` the name that ran (what
    ``auto`` chose); ``n`` the rows; ``quantity`` "I(a;b)" or "H(a)"; ``interval`` (low, high) when asked,
    else None; ``capped`` whether the raw value crossed 0 or a discrete side's entropy and was clipped.
    """

    value: float
    estimator: str
    n: int
    unit: str = "bits"
    quantity: str = "I(a;b)"
    interval: tuple[float, float] | None = None
    capped: bool = False

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        interval = "" if self.interval is None else f", interval=({self.interval[0]:.4g}, {self.interval[1]:.4g})"
        value = f"{self.quantity} = {self.value:.6g} {self.unit}"
        return f"Estimate({value}, estimator={self.estimator!r}, n={self.n}{interval})"


def _array(values: object, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold integers (codes) or floats, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, d), got {array.shape}")
    if len(array) == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} has shape {array.shape}: there is nothing to estimate")
    return array


def _is_codes(array: np.ndarray) -> bool:
    return array.dtype.kind in "iu"


def _auto(a: np.ndarray, b: np.ndarray | None) -> str:
    if b is None:
        return "plugin" if _is_codes(a) else "kl"
    if _is_codes(a) and _is_codes(b):
        return "plugin"
    return "ksg" if not (_is_codes(a) or _is_codes(b)) else "mixed"


def _unit(base: float) -> str:
    if not base > 1:
        raise ValueError(f"base must be > 1 (2 = bits, e = nats), got {base}")
    return _UNITS.get(float(base), f"log{base:g}")


def _non_finite(arrays: tuple[np.ndarray, ...], estimator: str, quantity: str) -> bool:
    """Whether the result is NaN: a NaN or inf input, or (not counting) values whose distances overflow; one warning."""
    bad = sum(int(np.size(x) - np.count_nonzero(np.isfinite(x))) for x in arrays if x.dtype.kind == "f")
    if bad:
        message = f"the input holds {bad} NaN or inf values: {quantity} by {estimator!r} is NaN"
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return True
    largest = 0.0 if estimator in COUNTING else max(overflowing(x) for x in arrays)
    if largest:
        message = (
            f"the input holds values up to {largest:.3g}, whose squared distances overflow float64: {quantity} by "
            f"{estimator!r} is NaN; rescale the input (divide it by its standard deviation)"
        )
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    return bool(largest)


def _check_neighbours(n_neighbors: int, n: int, estimator: str) -> None:
    check_neighbours(n_neighbors, n, estimator)


def _labels(b: np.ndarray, estimator: str) -> np.ndarray:
    if not _is_codes(b) or b.shape[1] != 1:
        raise ValueError(
            f"estimator {estimator!r} measures I(T;Y) with Y a 1-D integer label; got the other side with dtype "
            f"{b.dtype} and shape {b.shape} (use 'mixed' or 'ksg' for other pairs)"
        )
    return b[:, 0]


def _mi_nats_function(
    estimator: str, a: np.ndarray, b: np.ndarray, n_neighbors: int, options: dict
) -> Callable[[np.ndarray], float]:
    """A function of a row selection giving the raw I(a;b) in nats by ``estimator``."""
    if estimator in COUNTING:
        if not (_is_codes(a) and _is_codes(b)):
            raise ValueError(f"estimator {estimator!r} counts integer codes on both sides; got {a.dtype} and {b.dtype}")
        madow = estimator == "miller-madow"
        return lambda rows: _mm_or_plugin_nats(a[rows], b[rows], madow)
    if estimator in ("ksg", "ksg2"):
        variant = 1 if estimator == "ksg" else 2
        return lambda rows: knn_estimators.ksg_information_nats(a[rows], b[rows], n_neighbors, variant)
    if estimator == "mixed":
        return lambda rows: knn_estimators.mixed_ksg_information_nats(a[rows], b[rows], n_neighbors)
    if estimator == "lga":
        return lambda rows: lga_information_nats(a[rows], b[rows], **_lga_options(options))
    if estimator == "ross":
        labels = _labels(b, estimator)
        return lambda rows: knn_estimators.mixed_information_nats(a[rows], labels[rows], n_neighbors)
    if estimator in PIPELINE_ESTIMATORS:
        from ibpipe.estimators.api import information

        labels = _labels(b, estimator)
        settings = {"n_neighbors": n_neighbors, **options} if estimator == "knn" else options
        return lambda rows: information(a[rows].astype(np.float64), labels[rows], estimator, base=math.e, **settings)[
            "I_TY"
        ]
    raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(MI_ESTIMATORS)}")


def _lga_options(options: dict) -> dict:
    unknown = sorted(set(options) - {"lga_neighbors"})
    if unknown:
        raise TypeError(f"estimator 'lga' takes only the option lga_neighbors (its local fits' k), not {unknown}")
    return {"n_neighbors": options["lga_neighbors"]} if "lga_neighbors" in options else {}


def _mm_or_plugin_nats(a: np.ndarray, b: np.ndarray, miller_madow: bool) -> float:
    if not miller_madow:
        return mutual_information_bits(a, b) * LN2
    # Raw Miller-Madow, before any floor, so the caller can say whether it was capped.
    return (entropy_bits(a, True) + entropy_bits(b, True) - entropy_bits(np.hstack([a, b]), True)) * LN2


def _interval(
    function: Callable[[np.ndarray], float],
    n: int,
    point: float,
    level: float,
    resamples: int,
    seed: int,
    counting: bool,
) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"interval must be a coverage level in (0, 1) such as 0.95, got {level}")
    if resamples < 2:
        raise ValueError(f"resamples must be >= 2, got {resamples}")
    generator = np.random.default_rng(seed)
    tails = [(1 - level) / 2, (1 + level) / 2]
    if counting:  # basic bootstrap: rows drawn with replacement
        replicas = [function(generator.integers(0, n, n)) for _ in range(resamples)]
        low, high = np.quantile(replicas, tails)
        return 2 * point - high, 2 * point - low
    m = n // 2
    replicas = [function(np.sort(generator.choice(n, m, replace=False))) for _ in range(resamples)]
    low, high = np.quantile(np.asarray(replicas) - point, tails) * math.sqrt(m / n)
    return point - high, point - low


def mutual_information(
    a: np.ndarray,
    b: np.ndarray,
    estimator: str = "auto",
    n_neighbors: int = 3,
    *,
    base: float = 2.0,
    interval: float | None = None,
    resamples: int = 100,
    seed: int = 0,
    **options,
) -> Estimate:
    """I(A;B) between the rows of ``a`` and ``b`` ((n,) or (n, d) each), in bits (``base`` 2).

    ``estimator``: one of ``MI_ESTIMATORS``; ``auto`` by the dtypes (integers -> plugin, floats ->
    ksg, one of each -> mixed). ``n_neighbors``: k of the k-NN estimators. ``interval``: a coverage
    level (0.95) for a seeded interval from ``resamples`` resamples. ``options``: settings of the
    pipeline estimators (``noise_variance``...) or of the neural ones (passed through).

    >>> float(mutual_information(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])))
    1.0
    """
    a, b = _array(a, "a"), _array(b, "b")
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} rows but b has {len(b)}: the rows must be paired samples")
    if estimator not in MI_ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; known: {', '.join(MI_ESTIMATORS)}")
    name = _auto(a, b) if estimator == "auto" else estimator
    unit, n = _unit(base), len(a)
    if name not in (*PIPELINE_ESTIMATORS, *NEURAL_ESTIMATORS, "lga") and options:
        raise TypeError(f"estimator {name!r} takes no options {sorted(options)}")
    if name in NEURAL_ESTIMATORS:
        if interval is not None:
            raise ValueError(f"interval is not available for the neural estimator {name!r}")
        if _non_finite((a, b), name, "I(a;b)"):
            return Estimate(math.nan, name, n, unit)
        bits = _neural(a, b, name, seed, options)
        return Estimate(from_bits(max(bits, 0.0), base), name, n, unit, capped=bits < 0)
    if _is_codes(a) and not _is_codes(b) and name in ("ross", *PIPELINE_ESTIMATORS):
        a, b = b, a  # I is symmetric; these take the continuous side first
    if name not in COUNTING and name not in PIPELINE_ESTIMATORS:
        _check_neighbours(n_neighbors, n, name)
    function = _mi_nats_function(name, a, b, n_neighbors, options)
    if _non_finite((a, b), name, "I(a;b)"):
        return Estimate(math.nan, name, n, unit)
    everyone = np.arange(n)
    raw = function(everyone)
    ceiling = min(
        (entropy_bits(side) * LN2 for side in (a, b) if _is_codes(side)),
        default=math.inf,
    )
    value = min(max(raw, 0.0), ceiling)
    capped = abs(value - raw) > 1e-12
    bounds = None
    if interval is not None:
        counting = name in COUNTING
        low, high = _interval(function, n, raw, interval, resamples, seed, counting)
        bounds = (from_bits(max(low, 0.0) / LN2, base), from_bits(min(max(high, 0.0), ceiling) / LN2, base))
    return Estimate(from_bits(value / LN2, base), name, n, unit, interval=bounds, capped=capped)


def _neural(a: np.ndarray, b: np.ndarray, objective: str, seed: int, options: dict) -> float:
    try:
        module = importlib.import_module("ibpipe.estimators.neural")
    except ImportError as error:
        raise ImportError(
            f"estimator {objective!r} needs ibpipe.estimators.neural (the neural bounds, with torch), which did not "
            f"import: {error}"
        ) from error
    return float(
        module.neural_mutual_information(
            a.astype(np.float32), b.astype(np.float32), objective=objective, seed=seed, **options
        )
    )


def _entropy_nats_function(
    estimator: str, a: np.ndarray, n_neighbors: int, options: dict
) -> Callable[[np.ndarray], float]:
    if estimator in COUNTING:
        if not _is_codes(a):
            raise ValueError(f"estimator {estimator!r} counts integer codes; got dtype {a.dtype} (use 'kl' or 'kde')")
        return lambda rows: entropy_bits(a[rows], estimator == "miller-madow") * LN2
    if estimator == "kl":
        return lambda rows: knn_estimators.kozachenko_leonenko_entropy_nats(a[rows], n_neighbors)
    if estimator == "lga":
        return lambda rows: lga_entropy_nats(a[rows], **_lga_options(options))
    if estimator == "kde":
        from ibpipe.dimension.loo_kde import loo_kde_entropy

        return lambda rows: loo_kde_entropy(a[rows].astype(np.float64), **options)
    if estimator in PIPELINE_ESTIMATORS:
        from ibpipe.estimators.api import information

        settings = {"n_neighbors": n_neighbors, **options} if estimator == "knn" else options
        return lambda rows: information(
            a[rows].astype(np.float64), np.zeros(len(rows), dtype=np.int64), estimator, base=math.e, **settings
        )["H_T"]
    raise ValueError(f"unknown entropy estimator {estimator!r}; known: {', '.join(ENTROPY_ESTIMATORS)}")


def entropy(
    a: np.ndarray,
    estimator: str = "auto",
    n_neighbors: int = 3,
    *,
    base: float = 2.0,
    interval: float | None = None,
    resamples: int = 100,
    seed: int = 0,
    **options,
) -> Estimate:
    """H(A) of the rows of ``a`` ((n,) or (n, d)), in bits (``base`` 2): Shannon entropy for codes,
    differential entropy (may be negative) for floats.

    ``estimator``: one of ``ENTROPY_ESTIMATORS``; ``auto``: integers -> plugin, floats -> kl.
    ``options``: the ``kde`` bandwidth (``bandwidth="loo-ml"``, ``"scott"``, a number) or the pipeline
    estimators' settings.

    >>> float(entropy(np.array([0, 1, 2, 3])))
    2.0
    """
    a = _array(a, "a")
    if estimator not in ENTROPY_ESTIMATORS:
        raise ValueError(f"unknown entropy estimator {estimator!r}; known: {', '.join(ENTROPY_ESTIMATORS)}")
    name = _auto(a, None) if estimator == "auto" else estimator
    unit, n = _unit(base), len(a)
    if name not in (*PIPELINE_ESTIMATORS, "kde", "lga") and options:
        raise TypeError(f"estimator {name!r} takes no options {sorted(options)}")
    if name == "kl":
        _check_neighbours(n_neighbors, n, name)
    function = _entropy_nats_function(name, a, n_neighbors, options)
    if _non_finite((a,), name, "H(a)"):
        return Estimate(math.nan, name, n, unit, quantity="H(a)")
    raw = function(np.arange(n))
    bounds = None
    if interval is not None:
        low, high = _interval(function, n, raw, interval, resamples, seed, name in COUNTING)
        bounds = (from_bits(low / LN2, base), from_bits(high / LN2, base))
    return Estimate(from_bits(raw / LN2, base), name, n, unit, quantity="H(a)", interval=bounds)
