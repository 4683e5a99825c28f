"""The neuron dimension: inputs projected to ``dim`` dimensions before the net is trained, so every hidden
neuron has dim + 1 parameters (weights on the projected inputs, then its bias).

- ``pca``: x -> E (x - mean), E the first ``dim`` principal axes of the training inputs (rows of V^T in
  the SVD of the centred training inputs; each axis's sign fixed so its largest entry is positive).
  Distances between inputs that lie in a ``dim``-dimensional affine subspace are kept exactly.
- ``random``: x -> R x, R (dim, d) with independent N(0, 1/dim) entries drawn from
  ``numpy.random.default_rng(seed)`` (Johnson & Lindenstrauss 1984: squared distances are kept in
  expectation, within 1 +- eps for dim ~ log N / eps^2).

Both are fitted on the training rows and applied to the test rows unchanged.
"""

from __future__ import annotations

import numpy as np


def projection(train_inputs: np.ndarray, dim: int, method: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(centre (d,), matrix (dim, d)) of the projection x -> matrix (x - centre)."""
    x = np.asarray(train_inputs, dtype=np.float64).reshape(len(train_inputs), -1)
    n, d = x.shape
    if method == "pca":
        if dim > min(n, d):
            raise ValueError(
                f"neurons.bootstrap.dim = {dim}: PCA of {n} rows of {d} inputs has at most {min(n, d)} axes"
            )
        centre = x.mean(axis=0)
        axes = np.linalg.svd(x - centre, full_matrices=False)[2][:dim]
        signs = np.sign(axes[np.arange(dim), np.abs(axes).argmax(axis=1)])
        return centre, axes * signs[:, None]
    if method == "random":
        return np.zeros(d), np.random.default_rng(seed).standard_normal((dim, d)) / np.sqrt(dim)
    raise ValueError(f"neurons.bootstrap.projection must be pca or random, not {method!r}")


def project(inputs: np.ndarray, centre: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Rows (n, d) -> (n, dim) float32."""
    x = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
    return ((x - centre) @ matrix.T).astype(np.float32)
