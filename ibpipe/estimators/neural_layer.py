"""The neural bounds (``ibpipe.estimators.neural``) applied to one layer, as the pipeline measures it.

What X and T are: the layer's activations T are a deterministic function of the input X, so, as for the
KDE and k-NN estimators, T is measured with Gaussian noise Z ~ N(0, s2 I) of ``noise_variance`` added
(seeded), and I(X;T) means I(X; T + Z). Because T = f(X) and T + Z depends on X only through T,

    I(X; T + Z) = I(T; T + Z)      (data processing both ways: X -> T -> T + Z, and T is a function of X)

so the critic scores pairs (T, T + Z) of the noiseless and the noisy layer: no input vectors are read,
and the critic's two sides have the layer's width. Repeated inputs (``x_ids``) give repeated rows of T,
which changes nothing. I(T;Y) is the bound between T + Z (the same draw) and the one-hot class.

Neither quantity is an entropy: H(T) is NaN for these estimators. Each (epoch, layer) trains two critics
from scratch for at most ``neural_steps`` steps on batches of ``neural_batch`` rows (stopping early on the
held-out split), seeded by ``seed``. InfoNCE never exceeds log2 ``neural_batch`` bits: with little noise
I(X;T) of a layer is near H(X) (12 bits for 4096 distinct inputs), far above log2 128 = 7, and InfoNCE
then reports about 7 bits on every layer. The ceiling warning of the single-pair call is not repeated for
each (epoch, layer): the ceiling is this fixed number.
"""

from __future__ import annotations

import warnings

import numpy as np

from ibpipe.units import from_bits


def neural_layer_information(
    activations: np.ndarray,
    labels: np.ndarray,
    objective: str,
    noise_variance: float,
    *,
    steps: int,
    batch_size: int,
    seed: int = 0,
    base: float = 2.0,
) -> dict[str, float]:
    """{H_T (NaN), I_XT = I(T; T + Z), I_TY = I(T + Z; Y)} by the neural bound ``objective``, in log ``base``
    units; ``activations`` (n, d), ``labels`` (n,) class indices 0..C-1."""
    from ibpipe.estimators.neural import neural_mutual_information

    layer = np.asarray(activations, dtype=np.float64)
    layer = layer[:, None] if layer.ndim == 1 else layer
    noisy = layer + np.random.default_rng(seed).normal(scale=np.sqrt(noise_variance), size=layer.shape)
    classes = np.unique(np.asarray(labels).ravel(), return_inverse=True)[1].ravel()
    one_hot = np.eye(int(classes.max()) + 1, dtype=np.float32)[classes]
    options = {"steps": steps, "batch_size": batch_size}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the InfoNCE estimate", category=RuntimeWarning)
        input_bits = neural_mutual_information(layer, noisy, objective=objective, seed=seed, **options)
        label_bits = neural_mutual_information(noisy, one_hot, objective=objective, seed=seed, **options)
    return {"H_T": np.nan, "I_XT": from_bits(input_bits, base), "I_TY": from_bits(label_bits, base)}
