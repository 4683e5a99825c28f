"""Neural variational lower bounds on I(A;B) as one family in torch: InfoNCE, NWJ, MINE and SMILE.

A critic f(a, b) scores pairs. Positives are the paired rows (a_i, b_i) of a batch of K rows,
negatives the K (K - 1) mismatched pairs (a_i, b_j), j != i, of the same batch (samples of the
product of the marginals). With the critic trained to maximise the bound, in nats:

    InfoNCE (van den Oord et al. 2018):  I >= < f_ii - log (1/K) sum_j e^{f_ij} >          <= log K
    NWJ (Nguyen, Wainwright & Jordan 2010):  I >= E_P[f] - E_Q[e^{f - 1}]
    MINE / DV (Belghazi et al. 2018):  I >= E_P[f] - log E_Q[e^f]
    SMILE (Song & Ermon 2020):  E_P[f] - log E_Q[clip(e^f, e^-tau, e^tau)], critic trained by the
        Jensen-Shannon (f-GAN) objective, the value read from the clipped DV term

Known ceilings and biases (Poole et al. 2019, "On variational bounds of mutual information";
Song & Ermon 2020, "Understanding the limitations of variational mutual information estimators"):

- InfoNCE is a lower bound that can never exceed log K (K = ``batch_size``): on a pair whose MI
  is near or above log K it saturates; a warning is raised when the estimate is within
  ``INFONCE_CEILING_MARGIN`` of log K. Its variance is low.
- NWJ and MINE (DV) are unbiased in the limit but their variance grows like e^{I}: the partition
  term E_Q[e^f] is dominated by rare large values. MINE's plain gradient of log E_Q[e^f] is biased
  over mini-batches; Belghazi et al. replace the denominator by a moving average of E_Q[e^f]
  (``mine_average`` is its rate), which this module does.
- SMILE trades that variance for a bias set by ``smile_tau``: with the clip at tau it cannot
  report log-density ratios beyond ~tau; tau = 5 is the paper's choice.

The estimate is taken on a held-out split (``held_out`` of the rows) which the critic never
trained on; training stops early when the held-out bound has not improved for ``patience``
evaluations (or at the ``steps`` budget). Each evaluation is the mean of the bound over held-out
batches of ``batch_size`` rows (the same K as training, so InfoNCE's ceiling is the same log K);
the estimate is the mean of the evaluations from the best one to the last (the maximum alone of
noisy evaluations would be biased up), and the critic is left at its best evaluation. Columns are
standardised with the training split's mean and standard deviation first (MI does not change under an
invertible affine map per column).

Everything random (initial weights, batch order, the held-out split) is drawn from a
``torch.Generator`` seeded by ``seed``: the global RNGs are never touched, and the same seed
gives the same number on the same device and thread count. CPU by default (``device``).
"""

from __future__ import annotations

import difflib
import itertools
import math
import warnings
from typing import Literal

import numpy as np
import torch
from pydantic import ValidationError
from torch import nn

from ibpipe.schema import Settings, setting

OBJECTIVES = ("infonce", "nwj", "mine", "smile")
INFONCE_CEILING_MARGIN = 0.10  # warn when the InfoNCE estimate is within 10 % of log K (it nears log K slowly)
LN2 = math.log(2.0)


class NeuralSettings(Settings):
    """Settings of the neural estimators (``neural_mutual_information(..., **options)``)."""

    critic: Literal["separable", "concat"] = setting(
        "separable",
        "separable: f(a, b) = g(a) . h(b) (K^2 scores for the cost of 2K forward passes); "
        "concat: f(a, b) = MLP([a, b]) on all K^2 pairs (more expressive, K times slower)",
    )
    hidden: int = setting(64, "width of each hidden layer of the critic", unit="units", ge=1, le=4096)
    layers: int = setting(2, "hidden layers of each critic network", ge=1, le=8)
    embedding: int = setting(32, "output width of g and h of the separable critic", unit="units", ge=1, le=4096)
    steps: int = setting(600, "most optimiser steps (the training budget)", unit="steps", ge=1, le=1_000_000)
    batch_size: int = setting(128, "rows per batch K (InfoNCE can never exceed log K)", unit="rows", ge=2, le=65_536)
    learning_rate: float = setting(1.0e-3, "Adam learning rate", gt=0, le=1)
    held_out: float = setting(
        0.3, "fraction of the rows kept out of training; the estimate is taken on them", gt=0, lt=1
    )
    eval_every: int = setting(25, "optimiser steps between held-out evaluations", unit="steps", ge=1)
    patience: int = setting(
        6, "held-out evaluations without improvement before training stops early", unit="evaluations", ge=1
    )
    smile_tau: float = setting(5.0, "clip of SMILE: e^f is clipped to [e^-tau, e^tau] in the partition term", gt=0)
    mine_average: float = setting(
        0.01, "rate of MINE's moving average of E_Q[e^f] (the gradient's bias correction)", gt=0, le=1
    )
    inputs: Literal["standardise", "asinh"] = setting(
        "standardise",
        "standardise: each column to the training split's mean 0 and variance 1; asinh: then asinh of it, a "
        "monotone map per column (MI unchanged) that tames heavy tails, where held-out outliers push an MLP "
        "critic's scores far out",
    )
    device: str = setting("cpu", "torch device of the critic (cpu, cuda, cuda:1, mps)")
    threads: int = setting(
        1,
        "torch CPU threads during the fit, restored afterwards (a small critic runs fastest on one: "
        "more threads cost more in synchronisation than they save)",
        ge=1,
        le=1024,
    )


def neural_settings(**options: object) -> NeuralSettings:
    """Validated settings; an unknown name raises TypeError with the closest names, a bad value ValueError."""
    known = NeuralSettings.model_fields
    unknown = [name for name in options if name not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise TypeError(f"unknown neural estimator option(s) {', '.join(hints)}; known: {', '.join(known)}")
    try:
        return NeuralSettings(**options)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ValueError(
            f"neural estimator option {key} = {first.get('input')!r}: {first['msg']} ({known[key].description})"
        ) from None


def neural_mutual_information(
    a: np.ndarray, b: np.ndarray, *, objective: str, seed: int = 0, **options: object
) -> float:
    """I(A;B) in bits from paired rows ``a`` (n,) or (n, d_a) and ``b`` (n,) or (n, d_b) by a neural bound.

    ``objective``: ``infonce`` (<= log2 batch_size bits, low variance), ``nwj`` and ``mine``
    (unbounded, high variance: e^I), ``smile`` (clipped DV, bias set by ``smile_tau``). ``options``
    are the fields of ``NeuralSettings``. The value is the bound on the held-out split, which is a
    lower bound on the truth only in expectation: at small n it can be slightly negative or, for
    NWJ/MINE, above the truth.
    """
    if objective not in OBJECTIVES:
        close = difflib.get_close_matches(str(objective), OBJECTIVES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"objective = {objective!r}{hint}: expected one of {', '.join(OBJECTIVES)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed = {seed!r}: expected an integer >= 0")
    config = neural_settings(**options)
    a_rows, b_rows = _as_rows(a, "a"), _as_rows(b, "b")
    if len(a_rows) != len(b_rows):
        raise ValueError(f"a and b must have the same number of rows, got {len(a_rows)} and {len(b_rows)}")
    n = len(a_rows)
    n_test = round(config.held_out * n)
    if n_test < 2 or n - n_test < 2:
        raise ValueError(
            f"held_out = {config.held_out} leaves {n - n_test} training and {n_test} held-out rows of {n}: "
            "both need at least 2"
        )
    device = torch.device(config.device)
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator).numpy()
    train, test = order[n_test:], order[:n_test]
    a_std, b_std = _standardise(a_rows, train), _standardise(b_rows, train)
    if config.inputs == "asinh":
        a_std, b_std = np.arcsinh(a_std), np.arcsinh(b_std)
    tensors = {
        split: (torch.as_tensor(a_std[rows], device=device), torch.as_tensor(b_std[rows], device=device))
        for split, rows in (("train", train), ("test", test))
    }
    critic = _critic(config, a_rows.shape[1], b_rows.shape[1], generator).to(device)
    batch = min(config.batch_size, len(train), len(test))
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        nats = _fit_and_score(critic, tensors, objective, config, batch, generator)
    finally:
        torch.set_num_threads(threads)
    if objective == "infonce" and nats >= (1 - INFONCE_CEILING_MARGIN) * math.log(batch):
        warnings.warn(
            f"the InfoNCE estimate {nats / LN2:.3f} bits is within {INFONCE_CEILING_MARGIN:.0%} of its ceiling "
            f"log2(batch_size = {batch}) = {math.log2(batch):.3f} bits: the true MI may be higher; "
            "raise batch_size or use another objective",
            RuntimeWarning,
            stacklevel=2,
        )
    return nats / LN2


def _as_rows(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, d) with d >= 1, got {np.shape(values)}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values (or values beyond float32); drop or clip them first")
    return array


def _standardise(values: np.ndarray, train: np.ndarray) -> np.ndarray:
    mean = values[train].mean(axis=0)
    scale = values[train].std(axis=0)
    return ((values - mean) / np.where(scale > 0, scale, 1.0)).astype(np.float32)


def _mlp(n_in: int, n_out: int, config: NeuralSettings, generator: torch.Generator) -> nn.Sequential:
    """An MLP with ReLU between layers, initialised from ``generator`` as torch's default init would."""
    widths = [n_in] + [config.hidden] * config.layers + [n_out]
    modules: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out)
        bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
        modules.append(layer)
        if i < len(widths) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class _Separable(nn.Module):
    def __init__(self, config: NeuralSettings, d_a: int, d_b: int, generator: torch.Generator) -> None:
        super().__init__()
        self.g = _mlp(d_a, config.embedding, config, generator)
        self.h = _mlp(d_b, config.embedding, config, generator)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.g(a) @ self.h(b).T  # scores[i, j] = f(a_i, b_j)


class _Concat(nn.Module):
    def __init__(self, config: NeuralSettings, d_a: int, d_b: int, generator: torch.Generator) -> None:
        super().__init__()
        self.f = _mlp(d_a + d_b, 1, config, generator)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        k = len(a)
        pairs = torch.cat([a[:, None, :].expand(k, k, -1), b[None, :, :].expand(k, k, -1)], dim=-1)
        return self.f(pairs).squeeze(-1)


def _critic(config: NeuralSettings, d_a: int, d_b: int, generator: torch.Generator) -> nn.Module:
    kind = _Separable if config.critic == "separable" else _Concat
    return kind(config, d_a, d_b, generator)


def _log_mean_exp_off_diagonal(scores: torch.Tensor) -> torch.Tensor:
    k = len(scores)
    off = scores.masked_fill(torch.eye(k, dtype=torch.bool, device=scores.device), -math.inf)
    return torch.logsumexp(off.flatten(), dim=0) - math.log(k * (k - 1))


def bound_nats(scores: torch.Tensor, objective: str, tau: float = 5.0) -> torch.Tensor:
    """The value of a bound on a K x K score matrix (scores[i, j] = f(a_i, b_j); the diagonal is the positives)."""
    positives = scores.diagonal().mean()
    if objective == "infonce":
        return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(len(scores))
    if objective == "nwj":
        k = len(scores)
        off = scores.masked_fill(torch.eye(k, dtype=torch.bool, device=scores.device), -math.inf)
        return positives - torch.exp(off - 1).sum() / (k * (k - 1))
    if objective == "mine":
        return positives - _log_mean_exp_off_diagonal(scores)
    if objective == "smile":
        return positives - _log_mean_exp_off_diagonal(scores.clamp(-tau, tau))
    raise ValueError(f"objective = {objective!r}: expected one of {', '.join(OBJECTIVES)}")


def _jensen_shannon(scores: torch.Tensor) -> torch.Tensor:
    """The f-GAN Jensen-Shannon objective SMILE trains its critic with (Poole et al. 2019, Song & Ermon 2020)."""
    k = len(scores)
    mask = torch.eye(k, dtype=torch.bool, device=scores.device)
    positive_term = -nn.functional.softplus(-scores.diagonal()).mean()
    negative_term = nn.functional.softplus(scores[~mask]).mean()
    return positive_term - negative_term


class _MineLoss:
    """-(E_P[f] - E_Q[e^f] / m) with m a moving average of E_Q[e^f]: its gradient is the DV gradient
    with the mini-batch denominator replaced by m (Belghazi et al. 2018, section 3.2)."""

    def __init__(self, rate: float) -> None:
        self.rate, self.log_average = rate, None

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        log_mean = _log_mean_exp_off_diagonal(scores)
        current = log_mean.detach()
        if self.log_average is None or self.rate == 1:
            self.log_average = current
        else:  # m <- (1 - rate) m + rate E_Q[e^f], in logs
            self.log_average = torch.logaddexp(self.log_average + math.log1p(-self.rate), current + math.log(self.rate))
        return -(scores.diagonal().mean() - torch.exp(log_mean - self.log_average))


def _fit_and_score(
    critic: nn.Module,
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]],
    objective: str,
    config: NeuralSettings,
    batch: int,
    generator: torch.Generator,
) -> float:
    optimiser = torch.optim.Adam(critic.parameters(), lr=config.learning_rate)
    a_train, b_train = tensors["train"]
    n_train = len(a_train)
    mine_loss = _MineLoss(config.mine_average) if objective == "mine" else None
    history: list[float] = []
    best, best_at, best_state = -math.inf, 0, None
    permutation, cursor = torch.randperm(n_train, generator=generator), 0
    for step in range(1, config.steps + 1):
        if cursor + batch > n_train:
            permutation, cursor = torch.randperm(n_train, generator=generator), 0
        rows = permutation[cursor : cursor + batch].to(a_train.device)
        cursor += batch
        critic.train()
        scores = critic(a_train[rows], b_train[rows])
        if objective == "mine":
            loss = mine_loss(scores)
        elif objective == "smile":
            loss = -_jensen_shannon(scores)
        else:
            loss = -bound_nats(scores, objective)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step % config.eval_every == 0 or step == config.steps:
            history.append(_held_out(critic, tensors["test"], objective, config, batch))
            if history[-1] > best:
                best, best_at = history[-1], len(history) - 1
                best_state = {name: tensor.detach().clone() for name, tensor in critic.state_dict().items()}
            elif len(history) - 1 - best_at >= config.patience:
                break
    critic.load_state_dict(best_state)
    # the mean from the best evaluation on, not the maximum alone: the maximum of noisy evaluations is biased up
    return float(np.mean(history[best_at:]))


def _held_out(
    critic: nn.Module, test: tuple[torch.Tensor, torch.Tensor], objective: str, config: NeuralSettings, batch: int
) -> float:
    """The bound averaged over consecutive held-out batches of ``batch`` rows (the split is already shuffled)."""
    a_test, b_test = test
    critic.eval()
    values, weights = [], []
    with torch.no_grad():
        for start in range(0, len(a_test) - batch + 1, batch):
            scores = critic(a_test[start : start + batch], b_test[start : start + batch])
            values.append(float(bound_nats(scores, objective, config.smile_tau)))
            weights.append(batch)
    return float(np.average(values, weights=weights))
