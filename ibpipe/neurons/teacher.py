"""Algorithm 1 of the neuron study: a teacher net, its posterior p(y | x), a Bayesian student trained on
the teacher's answers; the neurons' parameter vectors are samples of the student's posterior.

1. The teacher is the trained reference net. Its outputs define p(y | x): softmax(logits) for a
   classification, N(f(x), sigma_o^2) for a forecast, sigma_o^2 the teacher's mean squared training
   residual per output (its maximum-likelihood noise variance).
2. ``teacher_answers`` samples ``draws`` labels per training input from p(y | x) (seeded).
3. The student has the teacher's architecture and a Gaussian prior N(teacher neuron, tau^2 I) on every
   neuron of the analysed layer (``ibpipe.neurons.layers``: hidden or read-out); the other layer stays at
   the teacher's weights. Its posterior given the sampled answers is approximated by

   - ``laplace_posterior``: theta* = argmax log p(answers | theta) + log prior (L-BFGS, float64), and per
     neuron N(theta*_j, (H_j + I / tau^2)^-1), H_j the exact Hessian block of the negative
     log-likelihood in neuron j's coordinates (Laplace 1774; MacKay, Neural Computation 1992), block
     diagonal over neurons as the variational source's mean field; or
   - the variational low-rank posterior of ``ibpipe.neurons.variational`` on the same likelihood.

When the likelihood is Gaussian and linear in theta (read-out neurons of a forecast) the posterior is
Gaussian and the Laplace one is exact: Bayesian linear regression, S = (F^T F / sigma^2 + I / tau^2)^-1,
m = S (F^T y / sigma^2 + m0 / tau^2), F the layer's features (hidden activations and a 1).
"""

from __future__ import annotations

import numpy as np
import torch

from ibpipe.neurons.layers import LayerView
from ibpipe.neurons.network import block_terms
from ibpipe.neurons.variational import fit_lowrank_posterior, layer_log_likelihood


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)


def teacher_answers(
    outputs: np.ndarray, loss: str, draws: int, seed: int, noise_variance=None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows (draws N,), answers) sampled from the teacher's p(y | x) on N rows of ``outputs`` (N, o).

    ``cross_entropy``: a label per row and draw, the first class whose cumulative softmax probability
    exceeds u ~ U(0, 1) (``numpy.random.default_rng(seed).random((draws, N))``). ``mse``: outputs +
    sqrt(noise_variance) * e, e = ``default_rng(seed).standard_normal((draws, N, o))``. Row d N + n is
    input n's answer of draw d.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n = len(outputs)
    rows = np.tile(np.arange(n), draws)
    if loss == "cross_entropy":
        cumulative = np.cumsum(softmax(outputs), axis=1)
        uniforms = rng.random((draws, n))
        labels = (uniforms[..., None] >= cumulative[None]).sum(axis=-1)
        return rows, np.minimum(labels, outputs.shape[1] - 1).reshape(-1).astype(np.int64)
    scale = np.sqrt(np.asarray(noise_variance, dtype=np.float64))
    answers = outputs[None] + scale * rng.standard_normal((draws, *outputs.shape))
    return rows, answers.reshape(-1, outputs.shape[1])


def _negative_log_likelihood(loss: str, noise_variance):
    if loss == "cross_entropy":
        return lambda outputs, targets: torch.nn.functional.cross_entropy(outputs, targets, reduction="sum")
    variance = torch.as_tensor(np.asarray(noise_variance, dtype=np.float64))
    return lambda outputs, targets: (((outputs - targets) ** 2) / (2 * variance)).sum()


def _targets(targets: np.ndarray, loss: str) -> torch.Tensor:
    return torch.as_tensor(np.asarray(targets), dtype=torch.long if loss == "cross_entropy" else torch.float64)


def laplace_posterior(
    view: LayerView,
    targets: np.ndarray,
    loss: str,
    prior_means: np.ndarray,
    prior_scale: float,
    noise_variance=None,
    max_iter: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """Laplace posterior (means (h, p), covariances (h, p, p)) of the layer's neurons under the prior
    N(prior_means_j, prior_scale^2 I) and the likelihood of ``targets`` through ``view`` (see the module
    docstring); ``noise_variance`` (o,) for ``mse``."""
    prior = torch.as_tensor(np.asarray(prior_means, dtype=np.float64))
    y = _targets(targets, loss)
    negative_log_likelihood = _negative_log_likelihood(loss, noise_variance)
    theta = prior.clone().requires_grad_(True)
    precision = 1.0 / prior_scale**2
    optimizer = torch.optim.LBFGS(
        [theta], max_iter=max_iter, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe"
    )

    def closure():
        optimizer.zero_grad()
        value = negative_log_likelihood(view.outputs(theta), y) + 0.5 * precision * ((theta - prior) ** 2).sum()
        value.backward()
        return value

    optimizer.step(closure)
    mode = theta.detach()
    _, hessians = block_terms(view, mode, y, negative_log_likelihood)
    p = mode.shape[1]
    covariances = np.linalg.inv(hessians + precision * np.eye(p))
    return mode.numpy().copy(), 0.5 * (covariances + np.swapaxes(covariances, -1, -2))


def teacher_student_posterior(view: LayerView, teacher_rows: np.ndarray, train_targets, loss: str, settings):
    """Algorithm 1 on the layer ``view`` of the teacher whose neurons are ``teacher_rows`` (h, p):
    (student means (h, p), covariances (h, p, p), the answers' noise variance or None).

    ``settings``: a ``neurons.gaussians`` section (student, draws, prior_scale, seed and the variational
    keys). The teacher's noise variance (``mse``) is its mean squared residual on ``train_targets``.
    """
    rows = torch.as_tensor(np.asarray(teacher_rows, dtype=np.float64))
    with torch.no_grad():
        outputs = view.outputs(rows).numpy()
    noise = None
    if loss != "cross_entropy":
        noise = ((outputs - np.asarray(train_targets, dtype=np.float64)) ** 2).mean(axis=0)
    index, answers = teacher_answers(outputs, loss, settings.draws, settings.seed, noise)
    student = LayerView(view.features[torch.as_tensor(index)], view.head)
    if settings.student == "laplace":
        means, covariances = laplace_posterior(student, answers, loss, teacher_rows, settings.prior_scale, noise)
        return means, covariances, noise
    posterior = fit_lowrank_posterior(
        layer_log_likelihood(student, answers, loss, noise),
        teacher_rows,
        settings.prior_scale,
        settings.rank,
        settings.steps,
        settings.samples,
        settings.learning_rate,
        settings.seed,
    )
    return posterior.means, posterior.covariances, noise
