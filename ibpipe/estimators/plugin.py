"""Plug-in (maximum-likelihood) entropy and mutual information of discrete codes.

H(T) = -sum_t p(t) log2 p(t) over the observed states of T, and
I(T;Y) = H(T) + H(Y) - H(T,Y). The same identity with X in place of Y gives I(X;T);
when every measured input is distinct, H(X,T) = H(X) and I(X;T) = H(T).

Miller-Madow adds the first-order bias correction (m - 1) / (2 N) nats to every entropy,
m the number of occupied states, N the number of samples, before the identities above.

References: R. Shwartz-Ziv & N. Tishby, "Opening the black box of deep neural networks via
information", arXiv:1703.00810 (2017); G. A. Miller, "Note on the bias of information
estimates", in Information Theory in Psychology (1955); L. Paninski, "Estimation of
entropy and mutual information", Neural Computation 15(6) (2003).
"""

from __future__ import annotations

import numpy as np

from ibpipe.estimators.counting import HAVE_NUMBA, count_layers, count_states
from ibpipe.estimators.rowkeys import row_ids
from ibpipe.units import from_bits, from_nats


def entropy_from_counts_nats(counts: np.ndarray, miller_madow: bool = False) -> float:
    """-sum p ln p of a histogram (empty bins ignored), optionally + (m - 1) / (2 N)."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts > 0]
    total = counts.sum()
    if total == 0:
        return 0.0
    probabilities = counts / total
    entropy = float(-(probabilities * np.log(probabilities)).sum())
    if miller_madow:
        entropy += (len(counts) - 1) / (2.0 * total)
    return entropy


def entropy_from_counts_bits(counts: np.ndarray, miller_madow: bool = False) -> float:
    """``entropy_from_counts_nats`` in bits."""
    return from_nats(entropy_from_counts_nats(counts, miller_madow))


def state_ids(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids in 0..m-1 of the rows of ``codes`` (equal rows, equal ids) and the id range m."""
    return count_states(codes) if np.ndim(codes) == 2 and np.shape(codes)[1] > 1 else row_ids(codes)


def _entropy_of_ids(ids: np.ndarray, n_states: int, miller_madow: bool) -> float:
    return entropy_from_counts_bits(np.bincount(ids, minlength=n_states), miller_madow)


def entropy_bits(codes: np.ndarray, miller_madow: bool = False) -> float:
    """Plug-in entropy of the rows of ``codes`` (n_samples,) or (n_samples, n_units), in bits."""
    return _entropy_of_ids(*state_ids(codes), miller_madow)


def joint_entropy_bits(ids_a: np.ndarray, n_a: int, ids_b: np.ndarray, n_b: int, miller_madow: bool = False) -> float:
    """H(A,B) from dense state ids of A and B; bincount while the joint grid is small."""
    joint = ids_a.astype(np.int64) * n_b + ids_b
    if n_a * n_b <= 4 * len(joint) + 1024:
        return entropy_from_counts_bits(np.bincount(joint, minlength=n_a * n_b), miller_madow)
    _, counts = np.unique(joint, return_counts=True)
    return entropy_from_counts_bits(counts, miller_madow)


def _clip(information_bits: float) -> float:
    # Plug-in H(A) + H(B) - H(A,B) >= 0 exactly; a tiny negative value is rounding, and a
    # negative Miller-Madow value is a bias correction overshooting zero, not information.
    return max(information_bits, 0.0)


def _information_of_ids(
    ids_a: np.ndarray, n_a: int, ids_b: np.ndarray, n_b: int, h_a: float, h_b: float, miller_madow: bool
) -> float:
    """H(A) + H(B) - H(A,B) in bits, unclipped (the caller applies the ceilings and counts them)."""
    return h_a + h_b - joint_entropy_bits(ids_a, n_a, ids_b, n_b, miller_madow)


def mutual_information_bits(a: np.ndarray, b: np.ndarray, miller_madow: bool = False) -> float:
    """I(A;B) = H(A) + H(B) - H(A,B) in bits between the rows of two code arrays."""
    a_ids, n_a = state_ids(a)
    b_ids, n_b = state_ids(b)
    h_a, h_b = _entropy_of_ids(a_ids, n_a, miller_madow), _entropy_of_ids(b_ids, n_b, miller_madow)
    return _clip(_information_of_ids(a_ids, n_a, b_ids, n_b, h_a, h_b, miller_madow))


def plugin_information(
    codes: np.ndarray,
    labels: np.ndarray,
    x_ids: np.ndarray | None = None,
    *,
    miller_madow: bool = False,
    base: float = 2.0,
) -> dict[str, float]:
    """H(T), I(X;T) and I(T;Y) in bits for one layer's integer codes.

    Parameters
    ----------
    codes : (n_samples, n_units) integer array, the discretised layer T.
    labels : (n_samples,) integer array, the class Y of each row.
    x_ids : (n_samples,) integer array, optional
        Which distinct input each row came from. ``None`` means every row is a distinct
        input, so I(X;T) = H(T).
    miller_madow : add the (m - 1) / (2N) bias correction to every entropy.
    base : unit, log ``base`` (2: bits, e: nats).

    Returns
    -------
    dict with float values ``H_T``, ``I_XT``, ``I_TY``. Raw values: Miller-Madow can put I(X;T)
    above H(X) or an information below 0 (``ibpipe.estimators.inputs.apply_ceilings`` clips
    and counts them; ``estimate_layer`` does so for every estimator).
    """
    values = _plugin_information_bits(codes, labels, x_ids, miller_madow)
    return {quantity: from_bits(value, base) for quantity, value in values.items()}


def _plugin_information_bits(codes, labels, x_ids, miller_madow: bool) -> dict[str, float]:
    codes = np.asarray(codes)
    if len(codes) != len(labels):
        raise ValueError(f"codes have {len(codes)} rows but labels have {len(labels)}")
    t_ids, n_t = state_ids(codes)
    y_ids, n_y = state_ids(np.asarray(labels))
    h_t = _entropy_of_ids(t_ids, n_t, miller_madow)
    h_y = _entropy_of_ids(y_ids, n_y, miller_madow)
    i_ty = _information_of_ids(t_ids, n_t, y_ids, n_y, h_t, h_y, miller_madow)
    if x_ids is None:
        return {"H_T": h_t, "I_XT": h_t, "I_TY": i_ty}
    x_ids, n_x = state_ids(np.asarray(x_ids))
    x_counts = np.bincount(x_ids, minlength=n_x)
    if x_counts.max() == 1:
        # Every row is a distinct input: H(X,T) = H(X), so I(X;T) = H(T) exactly.
        return {"H_T": h_t, "I_XT": h_t, "I_TY": i_ty}
    h_x = entropy_from_counts_bits(x_counts, miller_madow)
    return {"H_T": h_t, "I_XT": _information_of_ids(x_ids, n_x, t_ids, n_t, h_x, h_t, miller_madow), "I_TY": i_ty}


def layers_information(
    layers,
    labels: np.ndarray,
    *,
    bin_size: float | None = None,
    n_bins: int | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    miller_madow: bool = False,
    base: float = 2.0,
) -> list[dict[str, float]]:
    """``plugin_information`` of several binned layers of the same rows (one epoch's layers) at once.

    Every row is its own input (I(X;T) = H(T)). The layers are binned, hashed and counted in one
    compiled call (``ibpipe.estimators.counting.count_layers``), as a per-layer call costs more in
    overhead than in arithmetic for the small layers of the 12-bit network. Bins: ``bin_size`` (Saxe)
    or ``n_bins`` on ``value_range`` (Tishby). Returns one ``{"H_T", "I_XT", "I_TY", "capped"}`` per
    layer, equal to ``ibpipe.information`` up to rounding (~1e-15); a layer holding NaN or inf is
    measured by ``ibpipe.information`` (NaN, with its warning).
    """
    from ibpipe.estimators.api import information
    from ibpipe.estimators.inputs import apply_ceilings, ceilings, class_labels

    layers = [np.asarray(layer) for layer in layers]
    labels = class_labels(labels, len(layers[0]) if layers else None)
    binning = {"bin_size": bin_size} if bin_size is not None else {"n_bins": n_bins, "value_range": value_range}
    name = "miller-madow" if miller_madow else "plugin"
    if not HAVE_NUMBA or not layers:
        return [information(layer, labels, name, base=base, **binning) for layer in layers]
    _, classes = np.unique(labels, return_inverse=True)
    counts = count_layers(layers, classes.ravel(), **binning)
    n = counts.n_rows
    label_counts = np.bincount(classes.ravel())
    h_y = entropy_from_counts_nats(label_counts, miller_madow)
    limits = ceilings(labels, None, base)
    results = []
    for layer, layer_values in enumerate(layers):
        if counts.n_states[layer] < 0:
            results.append(information(layer_values, labels, name, base=base, **binning))
            continue
        h_t = np.log(n) - counts.sum_clogc[layer] / n
        h_ty = np.log(n) - counts.joint_sum_clogc[layer] / n
        if miller_madow:
            h_t += (counts.n_states[layer] - 1) / (2.0 * n)
            h_ty += (counts.n_joint[layer] - 1) / (2.0 * n)
        h_t, i_ty = from_nats(float(h_t), base), from_nats(float(h_t + h_y - h_ty), base)
        values, n_capped = apply_ceilings({"H_T": h_t, "I_XT": h_t, "I_TY": i_ty}, limits)
        results.append({**values, "capped": n_capped})
    return results
