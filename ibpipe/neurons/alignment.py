"""Aligning replica neurons to a reference network.

Hungarian matching (scipy linear_sum_assignment) of |activation correlation| or weight cosines,
with sign flips for odd activations.
"""

from __future__ import annotations

import numpy as np


def _correlations(reference: np.ndarray, replica: np.ndarray) -> np.ndarray:
    def standardised(x):
        x = np.asarray(x, dtype=np.float64)
        centred = x - x.mean(axis=0)
        scale = np.sqrt(np.mean(centred**2, axis=0))
        return np.divide(centred, scale, out=np.zeros_like(centred), where=scale > 0)

    reference, replica = standardised(reference), standardised(replica)
    return reference.T @ replica / len(reference)


def _match(similarity: np.ndarray, odd: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    if similarity.shape[0] > similarity.shape[1]:
        raise ValueError(
            f"the replica has fewer neurons ({similarity.shape[1]}) than the reference ({similarity.shape[0]})"
        )
    score = np.abs(similarity) if odd else similarity
    rows, permutation = linear_sum_assignment(score, maximize=True)
    matched = similarity[rows, permutation]
    signs = np.where(matched < 0, -1.0, 1.0) if odd else np.ones(len(rows))
    return permutation, signs, signs * matched


def align_to_reference(
    reference_activations: np.ndarray, replica_activations: np.ndarray, odd: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match a replica's hidden neurons to the reference's from their activations on the same (N, h) inputs.

    Replica neuron ``permutation[i]``, multiplied by ``signs[i]``, plays reference neuron i.
    With an odd activation (tanh) the Hungarian assignment maximises the summed |correlation|
    and a negative correlation becomes a sign flip; otherwise it maximises the summed signed
    correlation (an anti-correlated neuron is not a copy) and every sign is +1. ``quality[i]``
    is the matched correlation times its sign (|correlation| when odd). A constant
    activation correlates 0 with everything.
    """
    return _match(_correlations(reference_activations, replica_activations), odd)


def align_by_weights(
    reference_weights: np.ndarray, replica_weights: np.ndarray, odd: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``align_to_reference`` on the cosine similarity of incoming weight rows (h, p) (append the bias as a column)."""

    def unit_rows(w):
        w = np.asarray(w, dtype=np.float64)
        norms = np.linalg.norm(w, axis=1, keepdims=True)
        return np.divide(w, norms, out=np.zeros_like(w), where=norms > 0)

    return _match(unit_rows(reference_weights) @ unit_rows(replica_weights).T, odd)


def apply_alignment(
    w_in: np.ndarray, b_in: np.ndarray, w_out: np.ndarray, permutation: np.ndarray, signs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A replica's layer re-indexed to the reference: rows ``permutation`` of (w_in, b_in) and
    columns of w_out, times ``signs``.

    For an odd activation the aligned network computes the same function as the replica
    (restricted to the matched neurons).
    """
    signs = np.asarray(signs, dtype=np.float64)
    return (
        np.asarray(w_in)[permutation] * signs[:, None],
        np.asarray(b_in)[permutation] * signs,
        np.asarray(w_out)[:, permutation] * signs[None, :],
    )
