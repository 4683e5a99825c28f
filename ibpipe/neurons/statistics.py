"""Honest comparison of two clustering metrics: one number per restart, then a paired permutation test.

The compression curves hold a score (accuracy, or MSE) per (metric, k, restart). Restart r of
every k uses the same seed, so the (k, restart) pairs are not independent and pooling them in a
sign test overstates the evidence. Here each restart is reduced to one number first,
``area_under_curve``: the normalised area under its score-against-parameters curve (the mean
score over the range of parameter counts, trapezoid rule), and the restarts, which are
independent, are compared in pairs:

- ``paired_permutation_test``: two-sided sign-flip permutation test of the mean paired
  difference (Fisher 1935; Good, *Permutation Tests*, Springer 2000). Under H0 the
  differences are symmetric about 0, so every sign pattern is equally likely; the p-value is the
  share of sign patterns whose |mean| reaches the observed one. Exact (all 2^n patterns) for
  n <= ``exact_up_to``, otherwise ``n_permutations`` random patterns with the +1 correction of
  Phipson & Smyth (Stat. Appl. Genet. Mol. Biol. 2010). With n restarts the smallest possible
  p-value is 2 / 2^n: 0.0625 for 5 restarts, so a verdict needs at least 6.
- ``paired_comparison``: that test plus the effect size (mean difference, and Cohen's d_z =
  mean / sd of the differences) and a Student-t 95% confidence interval of the mean difference.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr


def area_under_curve(parameters: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Mean score over the parameter range: trapezoid area under ``scores`` (..., n_k) against
    ``parameters`` (n_k,), divided by the range; points are sorted by parameters first.

    One parameter count (or a zero range) gives the plain mean.
    """
    parameters = np.asarray(parameters, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(parameters, kind="stable")
    parameters, scores = parameters[order], scores[..., order]
    span = parameters[-1] - parameters[0]
    if len(parameters) < 2 or span <= 0:
        return scores.mean(axis=-1)
    widths = np.diff(parameters)
    return np.sum(0.5 * (scores[..., 1:] + scores[..., :-1]) * widths, axis=-1) / span


def paired_permutation_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int = 20_000, seed: int = 0, exact_up_to: int = 16
) -> float:
    """Two-sided sign-flip permutation p-value of mean(a - b) = 0 for paired samples.

    All differences zero gives 1.0. NaN differences are an error (the caller decides what a
    failed restart means).
    """
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if differences.ndim != 1 or len(differences) == 0:
        raise ValueError(f"paired samples must be two equal non-empty vectors, got differences {differences.shape}")
    if not np.all(np.isfinite(differences)):
        raise ValueError("paired samples must be finite")
    n = len(differences)
    observed = abs(differences.mean())
    if observed == 0:
        return 1.0
    # A tolerance so that patterns equal to the observed statistic up to round-off count as reaching it.
    threshold = observed * (1 - 1e-12)
    if n <= exact_up_to:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        return float(np.mean(np.abs(signs @ differences) / n >= threshold))
    rng = np.random.default_rng(seed)
    reached = 0
    for start in range(0, n_permutations, 4096):
        signs = rng.choice((-1.0, 1.0), size=(min(4096, n_permutations - start), n))
        reached += int(np.sum(np.abs(signs @ differences) / n >= threshold))
    return (reached + 1) / (n_permutations + 1)


@dataclass(frozen=True)
class PairedComparison:
    """a - b over paired units: mean, Student-t 95% interval, Cohen's d_z and the permutation p-value."""

    n: int
    mean_difference: float
    ci95_low: float
    ci95_high: float
    effect_size_dz: float
    p_value: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def paired_comparison(a: np.ndarray, b: np.ndarray, seed: int = 0) -> PairedComparison:
    """``paired_permutation_test`` with effect size and interval; d_z is 0 when every difference
    is equal to the mean (sd 0) and that mean is 0, +-inf when it is not."""
    from scipy.stats import t

    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = len(differences)
    mean = float(differences.mean())
    sd = float(differences.std(ddof=1)) if n > 1 else 0.0
    half = float(t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else np.inf
    if sd > 0:
        dz = mean / sd
    else:
        dz = 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    return PairedComparison(n, mean, mean - half, mean + half, dz, paired_permutation_test(a, b, seed=seed))


# verdict code (compression.json, `python -m ibpipe summary`): does W2 beat Euclidean?
VERDICT_CODES = {
    "better": "W2 helps",
    "worse": "W2 is worse",
    "none": "W2 does not help (no significant difference)",
    "unclear": "undecided: too few restarts to reach the level",
}


def verdict_code(n: int, mean_difference: float, p_value: float, higher_is_better: bool, alpha: float = 0.05) -> str:
    """``better``, ``worse``, ``none`` (no significant difference) or ``unclear`` (``n`` restarts cannot
    reach p < ``alpha``): the verdict on W2 minus Euclidean of ``verdict`` as a short code."""
    if p_value < alpha:
        return "better" if (mean_difference > 0 if higher_is_better else mean_difference < 0) else "worse"
    smallest = 2.0 / 2**n if n <= 16 else 0.0
    return "unclear" if smallest >= alpha else "none"


def verdict(comparison: PairedComparison, higher_is_better: bool, alpha: float = 0.05) -> str:
    """A plain sentence: does the first metric (W2) beat the second (Euclidean) at level ``alpha``?"""
    code = verdict_code(comparison.n, comparison.mean_difference, comparison.p_value, higher_is_better, alpha)
    if code == "unclear":
        smallest = 2.0 / 2**comparison.n
        return f"undecided: {comparison.n} restarts cannot reach p < {alpha} (smallest p {smallest:.3g})"
    if code == "none":
        return f"W2 does not help (no significant difference, p = {comparison.p_value:.3g})"
    return VERDICT_CODES[code]


def higher_is_better(curves: xr.Dataset) -> bool:
    return curves.attrs.get("primary_score", "accuracy") == "accuracy"


def smallest_parameters_at(curves: xr.Dataset, threshold: float = 0.9) -> dict[str, int | None]:
    """Per metric, the fewest parameters whose mean primary score over restarts reaches ``threshold``
    (accuracy >= threshold, or MSE <= threshold; None if never)."""
    smallest = {}
    score = curves[curves.attrs.get("primary_score", "accuracy")]
    for metric in curves.metric.values.tolist():
        mean = score.sel(metric=metric).mean("restart").values
        reaching = curves.params.values[mean >= threshold if higher_is_better(curves) else mean <= threshold]
        smallest[metric] = int(reaching.min()) if len(reaching) else None
    return smallest
