"""Plug-in (maximum-likelihood) entropy and mutual information of discrete codes.

H(T) = -sum_t p(t) log2 p(t) over the observed states of T, and
I(T;Y) = H(T) + H(Y) - H(T,Y). The same identity with X in place of Y gives I(X;T);
when every measured input is distinct, H(X,T) = H(X) and I(X;T) = H(T).

Reference: Shwartz-Ziv & Tishby, "Opening the black box of deep neural networks via
information", arXiv:1703.00810 (2017), section 3.
"""

from __future__ import annotations

import numpy as np

from ibpipe.estimators.rowkeys import row_keys


def entropy_from_counts_bits(counts: np.ndarray) -> float:
    """-sum p log2 p of a histogram; empty bins are ignored."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts > 0]
    total = counts.sum()
    if total == 0:
        return 0.0
    probabilities = counts / total
    return float(-(probabilities * np.log2(probabilities)).sum())


def state_ids(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids 0..m-1 of the distinct rows of ``codes`` and the number m of states."""
    keys = row_keys(codes)
    unique_keys, ids = np.unique(keys, return_inverse=True)
    return ids.ravel(), len(unique_keys)


def entropy_bits(codes: np.ndarray) -> float:
    """Plug-in entropy of the rows of ``codes`` (n_samples,) or (n_samples, n_units), in bits."""
    ids, n_states = state_ids(codes)
    return entropy_from_counts_bits(np.bincount(ids, minlength=n_states))


def joint_entropy_bits(ids_a: np.ndarray, n_a: int, ids_b: np.ndarray, n_b: int) -> float:
    """H(A,B) from dense state ids of A and B; bincount while the joint grid is small."""
    joint = ids_a.astype(np.int64) * n_b + ids_b
    if n_a * n_b <= 4 * len(joint) + 1024:
        return entropy_from_counts_bits(np.bincount(joint, minlength=n_a * n_b))
    _, counts = np.unique(joint, return_counts=True)
    return entropy_from_counts_bits(counts)


def mutual_information_bits(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in I(A;B) = H(A) + H(B) - H(A,B) in bits between the rows of two code arrays."""
    a_ids, n_a = state_ids(a)
    b_ids, n_b = state_ids(b)
    h_a = entropy_from_counts_bits(np.bincount(a_ids, minlength=n_a))
    h_b = entropy_from_counts_bits(np.bincount(b_ids, minlength=n_b))
    return _clip(h_a + h_b - joint_entropy_bits(a_ids, n_a, b_ids, n_b))


def _clip(information_bits: float) -> float:
    # H(A) + H(B) - H(A,B) >= 0 exactly; a tiny negative value is rounding, not information.
    return max(information_bits, 0.0)


def plugin_information(codes: np.ndarray, labels: np.ndarray, x_ids: np.ndarray | None = None) -> dict[str, float]:
    """H(T), I(X;T) and I(T;Y) in bits for one layer's integer codes.

    Parameters
    ----------
    codes : (n_samples, n_units) integer array, the discretised layer T.
    labels : (n_samples,) integer array, the class Y of each row.
    x_ids : (n_samples,) integer array, optional
        Which distinct input each row came from. ``None`` means every row is a distinct
        input, so I(X;T) = H(T).

    Returns
    -------
    dict with float values ``H_T``, ``I_XT``, ``I_TY``, in bits.
    """
    codes = np.asarray(codes)
    if len(codes) != len(labels):
        raise ValueError(f"codes have {len(codes)} rows but labels have {len(labels)}")
    t_ids, n_t = state_ids(codes)
    y_ids, n_y = state_ids(np.asarray(labels))
    h_t = entropy_from_counts_bits(np.bincount(t_ids, minlength=n_t))
    h_y = entropy_from_counts_bits(np.bincount(y_ids, minlength=n_y))
    i_ty = _clip(h_t + h_y - joint_entropy_bits(t_ids, n_t, y_ids, n_y))
    if x_ids is None:
        return {"H_T": h_t, "I_XT": h_t, "I_TY": i_ty}
    x_ids, n_x = state_ids(np.asarray(x_ids))
    if n_x == len(x_ids):
        # Every row is a distinct input: H(X,T) = H(X), so I(X;T) = H(T) exactly.
        return {"H_T": h_t, "I_XT": h_t, "I_TY": i_ty}
    h_x = entropy_from_counts_bits(np.bincount(x_ids, minlength=n_x))
    i_xt = _clip(h_x + h_t - joint_entropy_bits(x_ids, n_x, t_ids, n_t))
    return {"H_T": h_t, "I_XT": i_xt, "I_TY": i_ty}
