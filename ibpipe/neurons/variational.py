"""Low-rank Gaussian posteriors of a layer's neurons by variational inference.

Each neuron theta_j in R^p (incoming weights, then bias) gets q(theta_j) = N(mu_j, A_j A_j^T + diag(d_j^2))
with a rank-k factor A_j (p x k) and a per-coordinate floor d_j, independently across neurons
(mean field over neurons, full low-rank covariance within one; Blundell et al., ICML 2015 for
the Bayesian layer, Tomczak et al., 2020 and Rezende & Mohamed-style low-rank-plus-diagonal
families, Ong, Nott & Smith, J. Comput. Graph. Stat. 2018). The floor keeps q a density (log det
finite) and is part of the covariance, so W2 stays exact through the low-rank identity with the
factor [A_j | diag(d_j)] (``lowrank_factors``; ``ibpipe.neurons.gaussians.w2_squared_lowrank``).

The prior is N(m_j, tau^2 I), m_j the trained reference neuron. Training minimises the negative
evidence lower bound

    -ELBO = - E_q[log p(D | theta)] + sum_j KL(q_j || p_j),

the expectation by the reparameterisation theta = mu + A e1 + d * e2, e1 ~ N(0, I_k),
e2 ~ N(0, I_p) (Kingma & Welling, ICLR 2014), ``samples`` draws per step, full-batch Adam with a
cosine learning-rate decay to zero (the last steps average out the Monte-Carlo noise). The KL of
N(mu, S) from N(m, tau^2 I) in p dimensions is

    0.5 [ (Tr S + |mu - m|^2) / tau^2 - p + p log tau^2 - log det S ],

with Tr S = |A|_F^2 + |d|^2 and log det S = sum log d^2 + log det(I_k + A^T diag(d^-2) A)
(matrix determinant lemma), a k x k determinant. When the likelihood is Gaussian and linear in
theta the optimum of this family with k = p is the exact posterior.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class LowRankPosterior:
    """means (h, p), factors (h, p, k), floors d (h, p): S_j = A_j A_j^T + diag(d_j^2)."""

    means: np.ndarray
    factors: np.ndarray
    floors: np.ndarray

    @property
    def covariances(self) -> np.ndarray:
        return self.factors @ np.swapaxes(self.factors, -1, -2) + np.einsum(
            "hp,pq->hpq", self.floors**2, np.eye(self.means.shape[1])
        )

    def lowrank_factors(self) -> np.ndarray:
        """(h, p, k + p) factors F_j = [A_j | diag(d_j)] with F_j F_j^T = S_j."""
        return np.concatenate([self.factors, np.einsum("hp,pq->hpq", self.floors, np.eye(self.means.shape[1]))], axis=2)


def gaussian_kl(means, factors, floors, prior_means, prior_scale: float) -> torch.Tensor:
    """sum_j KL(N(mu_j, A_j A_j^T + diag d_j^2) || N(m_j, tau^2 I)), in nats (torch, differentiable)."""
    p = means.shape[-1]
    variance = prior_scale**2
    trace = (factors**2).sum(dim=(-2, -1)) + (floors**2).sum(dim=-1)
    scaled = factors / floors[..., None]
    small = torch.eye(factors.shape[-1], dtype=factors.dtype) + scaled.transpose(-1, -2) @ scaled
    log_det = 2 * torch.log(floors).sum(dim=-1) + torch.linalg.slogdet(small)[1]
    distance = ((means - prior_means) ** 2).sum(dim=-1)
    return 0.5 * ((trace + distance) / variance - p + p * np.log(variance) - log_det).sum()


def fit_lowrank_posterior(
    log_likelihood: Callable[[torch.Tensor], torch.Tensor],
    prior_means: np.ndarray,
    prior_scale: float,
    rank: int,
    steps: int = 2000,
    samples: int = 8,
    learning_rate: float = 1e-2,
    seed: int = 0,
    initial_scale: float | None = None,
) -> LowRankPosterior:
    """Variational posterior of h neurons (``prior_means`` (h, p)) as in the module docstring.

    ``log_likelihood`` maps weight samples (S, h, p) (float64 tensor) to the data log-likelihood
    of each sample (S,), summed over the rows. The means start at the prior means; the factors
    and floors at ``initial_scale`` (default prior_scale / 100), the factors random.
    """
    prior = torch.as_tensor(np.asarray(prior_means, dtype=np.float64))
    h, p = prior.shape
    generator = torch.Generator().manual_seed(seed)
    start = prior_scale / 100 if initial_scale is None else initial_scale
    means = prior.clone().requires_grad_(True)
    factors = (
        start * torch.randn(h, p, rank, generator=generator, dtype=torch.float64) / np.sqrt(rank)
    ).requires_grad_(True)
    log_floors = torch.full((h, p), float(np.log(start)), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([means, factors, log_floors], lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        floors = torch.exp(log_floors)
        low = torch.randn(samples, h, rank, generator=generator, dtype=torch.float64)
        diagonal = torch.randn(samples, h, p, generator=generator, dtype=torch.float64)
        theta = means + torch.einsum("hpk,shk->shp", factors, low) + floors * diagonal
        loss = -log_likelihood(theta).mean() + gaussian_kl(means, factors, floors, prior, prior_scale)
        loss.backward()
        optimizer.step()
        schedule.step()
    return LowRankPosterior(
        means.detach().numpy().copy(), factors.detach().numpy().copy(), torch.exp(log_floors).detach().numpy().copy()
    )


def hidden_layer_log_likelihood(
    inputs: np.ndarray,
    targets: np.ndarray,
    reference: tuple[np.ndarray, ...],
    activation: str,
    loss: str,
    neuron_layer: str = "hidden",
) -> Callable[[torch.Tensor], torch.Tensor]:
    """log p(D | neurons theta (S, h, p)) of a one-hidden-layer net ``reference`` = (w_in, b_in, w_out, b_out)
    whose other layer stays at the reference's; ``neuron_layer``: ``hidden`` (default) or ``output``.

    ``cross_entropy``: minus the summed cross-entropy (a categorical likelihood). ``mse``: a
    Gaussian likelihood, - sum_n sum_o (y_no - f_no)^2 / (2 sigma_o^2), with the noise variance
    sigma_o^2 of each output fixed at the reference's mean squared residual (its maximum-likelihood
    estimate).
    """
    from ibpipe.neurons.layers import layer_view, neuron_rows

    view = layer_view(reference, inputs, activation, neuron_layer)
    rows = neuron_rows(*reference[:2]) if neuron_layer == "hidden" else neuron_rows(*reference[2:])
    noise = None
    if loss != "cross_entropy":
        y = torch.as_tensor(np.asarray(targets, dtype=np.float64))
        with torch.no_grad():
            noise = ((view.outputs(torch.as_tensor(rows, dtype=torch.float64)) - y) ** 2).mean(dim=0)
    return layer_log_likelihood(view, targets, loss, noise)


def layer_log_likelihood(view, targets: np.ndarray, loss: str, noise_variance=None) -> Callable:
    """log p(targets | theta) for samples theta (S, h, p) -> (S,) through ``view`` (``ibpipe.neurons.layers``):
    categorical on logits (``cross_entropy``), or Gaussian with per-output ``noise_variance`` (``mse``)."""
    if loss == "cross_entropy":
        labels = torch.as_tensor(np.asarray(targets), dtype=torch.long)

        def log_likelihood(theta: torch.Tensor) -> torch.Tensor:
            logits = view.outputs(theta)
            samples, rows, classes = logits.shape
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, classes), labels.repeat(samples), reduction="none"
            )
            return -losses.reshape(samples, rows).sum(dim=1)

        return log_likelihood
    y = torch.as_tensor(np.asarray(targets, dtype=np.float64))
    variance = torch.as_tensor(np.asarray(noise_variance, dtype=np.float64))

    def gaussian_log_likelihood(theta: torch.Tensor) -> torch.Tensor:
        return -(((view.outputs(theta) - y) ** 2) / (2 * variance)).sum(dim=(1, 2))

    return gaussian_log_likelihood
