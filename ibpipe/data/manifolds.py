"""Point clouds with a known intrinsic dimension, embedded in R^D: the oracles of the dimension estimators.

- ``linear``: a k-dim standard Gaussian through a random D x k Gaussian map (dimension k);
- ``swissroll``, ``scurve``: scikit-learn's 2-dim manifolds in R^3 (dimension 2);
- ``sphere``: uniform points on the k-sphere in R^(k+1) (dimension k; it needs k+1 to embed).

The curved ones reach R^D through a random map with orthonormal columns (distances kept).
Gaussian noise of standard deviation ``noise`` is added in R^D.
"""

from __future__ import annotations

import numpy as np

MANIFOLDS = ("linear", "swissroll", "scurve", "sphere")


def _orthonormal_map(generator: np.random.Generator, ambient_dim: int, source_dim: int) -> np.ndarray:
    if ambient_dim < source_dim:
        raise ValueError(f"ambient dimension {ambient_dim} is below the {source_dim} dimensions the manifold needs")
    q, _ = np.linalg.qr(generator.normal(size=(ambient_dim, source_dim)))
    return q


def make_manifold(name: str, n_samples: int, ambient_dim: int, intrinsic_dim: int = 2, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, int]:
    """(points (n_samples, ambient_dim) float64, true intrinsic dimension); ``intrinsic_dim`` is k of linear and sphere."""
    from sklearn.datasets import make_s_curve, make_swiss_roll

    generator = np.random.default_rng(seed)
    if name == "linear":
        if not 1 <= intrinsic_dim <= ambient_dim:
            raise ValueError(f"linear needs 1 <= intrinsic_dim <= ambient_dim, got {intrinsic_dim} and {ambient_dim}")
        latent = generator.normal(size=(n_samples, intrinsic_dim))
        points, true_dim = latent @ generator.normal(size=(ambient_dim, intrinsic_dim)).T, intrinsic_dim
    elif name in ("swissroll", "scurve"):
        make = make_swiss_roll if name == "swissroll" else make_s_curve
        curve, _ = make(n_samples, random_state=int(generator.integers(2**31)))
        points, true_dim = curve @ _orthonormal_map(generator, ambient_dim, 3).T, 2
    elif name == "sphere":
        if intrinsic_dim < 1:
            raise ValueError(f"sphere needs intrinsic_dim >= 1, got {intrinsic_dim}")
        directions = generator.normal(size=(n_samples, intrinsic_dim + 1))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        points, true_dim = directions @ _orthonormal_map(generator, ambient_dim, intrinsic_dim + 1).T, intrinsic_dim
    else:
        raise ValueError(f"unknown manifold {name!r}; known: {', '.join(MANIFOLDS)}")
    if noise > 0:
        points = points + generator.normal(scale=noise, size=points.shape)
    return points, true_dim
