"""Compressing a layer, and the sign test that compares two metrics.

Every neuron is replaced by its cluster centre, identical neurons are merged exactly (outgoing
weights summed) and the parameters are counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def compress_layer(
    w_in: np.ndarray, b_in: np.ndarray, w_out: np.ndarray, labels: np.ndarray, centre_means: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace each neuron's (weights, bias) by its centre's mean, then merge identical neurons exactly.

    ``centre_means`` (k, p_in + 1) holds weights then bias. Neurons whose replaced rows are
    identical (same centre, or centres with equal means) become one neuron whose outgoing column
    is the sum of theirs, so the merged layer's output equals the replaced layer's. Distinct
    rows keep the order of their first neuron: with one centre per neuron at that neuron's own
    parameters the layer comes back unchanged.
    """
    w_in, b_in, w_out = (np.asarray(a) for a in (w_in, b_in, w_out))
    centre_means = np.asarray(centre_means)
    labels = np.asarray(labels)
    h, p_in = w_in.shape
    if centre_means.ndim != 2 or centre_means.shape[1] != p_in + 1:
        raise ValueError(f"centre means must be (k, {p_in + 1}) (weights then bias), got {centre_means.shape}")
    if labels.shape != (h,) or b_in.shape != (h,) or w_out.shape[1] != h:
        raise ValueError("labels, b_in and the columns of w_out must have one entry per neuron")
    replaced = centre_means[labels]
    _, first, inverse = np.unique(replaced, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    merged_index = rank[inverse.reshape(-1)]
    rows = replaced[first[order]]
    merged_out = np.zeros((w_out.shape[0], len(order)), dtype=np.result_type(w_out, np.float64))
    np.add.at(merged_out.T, merged_index, w_out.T)
    return (
        rows[:, :p_in].astype(w_in.dtype, copy=False),
        rows[:, p_in].astype(b_in.dtype, copy=False),
        merged_out.astype(w_out.dtype, copy=False),
    )


def count_parameters(shapes: Iterable[Sequence[int] | np.ndarray]) -> int:
    """The number of scalars in arrays given by their shapes (or the arrays themselves)."""
    return int(sum(np.prod(getattr(shape, "shape", shape), dtype=np.int64) for shape in shapes))


def sign_test(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided exact binomial sign test of paired samples: p-value for P(a > b) = 1/2, ties
    dropped (1.0 if all tie)."""
    from scipy.stats import binomtest

    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    differences = differences[differences != 0]
    if len(differences) == 0:
        return 1.0
    return float(binomtest(int(np.sum(differences > 0)), len(differences), 0.5, alternative="two-sided").pvalue)
