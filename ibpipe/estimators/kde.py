"""Pairwise-distance bounds on the information of a noisy layer (Kolchinsky & Tracey).

The layer is treated as T + Z with Gaussian noise Z ~ N(0, s2 I): a mixture of N Gaussians
centred on the observed points. With D_ij = |t_i - t_j|^2 (j = i included),

    H(T|X)   = (d/2) ln(2 pi e s2)
    H_upper  = H(T|X) - (1/N) sum_i ln[(1/N) sum_j exp(-D_ij / (2 s2))]   (KL divergence bound)
    H_lower  = the same with 8 s2 in place of 2 s2                          (Bhattacharyya bound)
    I(X;T)   = H - H(T|X)
    I(T;Y)   = H(T) - sum_y p(y) H(T|Y=y),  each class its own mixture.

Repeated inputs (``x_ids``): the rows of one input x are one mixture of their own, so
H(T|X) = sum_x p(x) H(T|X=x) by the same bound over the rows of x; then
I(X;T) = (1/N) sum_i ln[(mean_{j: x_j = x_i} K_ij) / (mean_j K_ij)] <= H(X) exactly, because
the inner sum over the rows of x_i is at most the sum over all rows. Likewise I(T;Y) <= H(Y).

Sums run over row blocks, so memory is O(block x N), never N x N; every row sum is at
least exp(0) = 1 (the j = i term), so no log-sum-exp shift is needed. The I(T;Y) "bounds"
are differences of entropy bounds, as in Saxe et al.: estimates, not guaranteed bounds.

References: A. Kolchinsky & B. D. Tracey, "Estimating mixture entropy with pairwise
distances", Entropy 19(7):361 (2017); A. M. Saxe et al., "On the information bottleneck
theory of deep learning", ICLR (2018).
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from ibpipe.estimators.groups import within_group_log_mean_kernel
from ibpipe.estimators.kde_sweep import COMPILED, swept_kernel_sums
from ibpipe.estimators.pairwise import _on_cpu, cross_products, current, principal_axis
from ibpipe.estimators.pairwise import block_rows as default_block_rows
from ibpipe.estimators.rowkeys import row_keys
from ibpipe.estimators.settings import default
from ibpipe.units import from_nats

DEFAULT_BLOCK_ROWS = 512  # below ~512 rows BLAS re-packs the column operand per block and runs 2x slower
# Pairs whose Bhattacharyya kernel exp(-D / (8 s2)) is below exp(-40) are skipped: with the
# j = i term every row sum is >= 1, so N such terms change ln(sum) by < N * 4e-18.
NEGLIGIBLE_EXPONENT = 40.0


# Layers of at most this many units take the compiled pair sweep (``fused_sweep``): with few units a pair
# costs a few flops and one exp, less than BLAS's product plus numpy's passes over the block.
FUSED_MAX_DIMS = 32
SPARSE_BELOW = 0.1  # blocks where fewer pairs than this share are within reach take the sparse path
# Rows are told apart by a hash of at most this many of their columns (spread evenly), then confirmed
# equal in full: wide layers need not be hashed column by column.
KEY_COLUMNS = 64
_MIX = np.uint64(0x9E3779B97F4A7C15)
_FINAL = np.uint64(0xBF58476D1CE4E5B9)


def distinct_rows(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the distinct rows of ``points`` in order of first appearance, and each row's distinct index.

    Rows are equal when their bytes are (so 0.0 and -0.0 differ, as do NaNs of other payloads). A
    64-bit key from up to ``KEY_COLUMNS`` columns groups candidate rows; every row of a group is
    then compared in full with the group's first row, and a mismatch (rows equal on the keyed
    columns only) sends the whole array to an exact sort of the rows as byte strings.
    """
    points = np.ascontiguousarray(points)
    n_rows, n_columns = points.shape
    bits = points.view(np.uint64) if points.dtype.itemsize == 8 else points.astype(np.float64).view(np.uint64)
    columns = np.unique(np.linspace(0, n_columns - 1, min(n_columns, KEY_COLUMNS)).astype(np.int64))
    keys = np.zeros(n_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in columns.tolist():
            keys = (keys ^ bits[:, column]) * _MIX
            keys ^= keys >> np.uint64(31)
            keys *= _FINAL
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    group = group.ravel()
    leader = first[group]  # the first row with the row's key
    shared = np.flatnonzero(leader != np.arange(n_rows))
    if len(shared) and not np.array_equal(points[shared], points[leader[shared]]):
        as_bytes = points.view(np.dtype((np.void, points.dtype.itemsize * n_columns))).ravel()
        _, first, group = np.unique(as_bytes, return_index=True, return_inverse=True)
        leader = first[group.ravel()]
    distinct = np.flatnonzero(leader == np.arange(n_rows))  # ascending: order of first appearance
    index_of = np.empty(n_rows, dtype=np.int64)
    index_of[distinct] = np.arange(len(distinct))
    return distinct, index_of[leader]


def _class_kernel_sums(
    points: np.ndarray, class_counts: np.ndarray, noise_variance: float, block_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each row i and class c: sum over rows j of class c of exp(-D_ij / (2 s2)) and of exp(-D_ij / (8 s2)).

    ``points`` are distinct rows and ``class_counts`` (n_points, n_classes) how many samples
    of each class sit on each row. Returns two arrays (n_points, n_classes): the KL (upper)
    and Bhattacharyya (lower) kernel sums.

    Savings that keep this exact to ~1e-14 yet several times faster than the full N x N sum:
    rows are sorted along their first principal axis, so a block of rows only meets the
    columns within ``reach`` of it on that axis; every block pair is computed once and used
    for both orders (D is symmetric); only pairs with a non-negligible kernel get an exp
    (sparsely, when they are few); the lower kernel is the upper one to the power 1/4.
    """
    # O(N d), not the O(d^3) eigendecomposition. The axis only sets how many pairs are skipped; on a
    # wide layer (whose sums' order is not the narrow layers' anyway) a rougher one costs 16x less.
    rough = {"iterations": 20, "max_rows": 500} if points.shape[1] > KEY_COLUMNS else {}
    projection = points @ principal_axis(points, **rough)
    order = np.argsort(projection, kind="stable")
    points, counts, projection = points[order], class_counts[order], projection[order]
    reach = np.sqrt(8.0 * noise_variance * NEGLIGIBLE_EXPONENT)
    inverse = np.empty(len(points), dtype=np.int64)
    inverse[order] = np.arange(len(points))
    if fused_sweep(points.shape[1]):
        sums = swept_kernel_sums(
            np.ascontiguousarray(points),
            np.ascontiguousarray(counts),
            projection,
            0.125 / noise_variance,
            reach,
            NEGLIGIBLE_EXPONENT,
        )
        return sums[0][inverse], sums[1][inverse]
    # -D_ij / (2 s2) = a_i.a_j / s2 - |a_i|^2 / (2 s2) - |a_j|^2 / (2 s2): scaling first saves two passes.
    half_norms = np.einsum("ij,ij->i", points, points) * (0.5 / noise_variance)
    sums = np.zeros((2, len(points), counts.shape[1]))  # upper, lower
    for start in range(0, len(points), block_rows):
        stop = min(start + block_rows, len(points))
        end = int(np.searchsorted(projection, projection[stop - 1] + reach, side="right"))
        # The block's rows scaled here, not the whole array (a second copy of the layer).
        exponent = cross_products(points[start:stop] / noise_variance, points[start:end])
        exponent -= half_norms[start:stop, None]
        exponent -= half_norms[None, start:end]
        within = exponent > -4.0 * NEGLIGIBLE_EXPONENT
        add = _add_sparse_block if np.count_nonzero(within) < SPARSE_BELOW * within.size else _add_dense_block
        add(sums[:, start:end], exponent, within, counts[start:end], stop - start)
    return sums[0][inverse], sums[1][inverse]


def fused_sweep(n_dims: int) -> bool:
    """Whether a layer of ``n_dims`` units takes the compiled pair sweep: numba, the CPU in float64, and at
    most ``FUSED_MAX_DIMS`` units (wider layers are faster through BLAS)."""
    return COMPILED and n_dims <= FUSED_MAX_DIMS and _on_cpu(None) and current().dtype == "float64"


def _add_dense_block(sums: np.ndarray, exponent: np.ndarray, within: np.ndarray, counts: np.ndarray, own: int) -> None:
    """Add block rows [0, own) x columns [0, m) to ``sums`` (2, m, n_classes), both orders."""
    kernel = np.zeros_like(exponent)
    np.exp(exponent, out=kernel, where=within)
    for bound in range(2):
        if bound == 1:
            np.sqrt(kernel, out=kernel)  # exp(-D / (8 s2)) = exp(-D / (2 s2)) ** (1/4)
            np.sqrt(kernel, out=kernel)
        sums[bound, :own] += kernel @ counts
        sums[bound, own:] += (counts[:own].T @ kernel[:, own:]).T


def _add_sparse_block(sums: np.ndarray, exponent: np.ndarray, within: np.ndarray, counts: np.ndarray, own: int) -> None:
    """``_add_dense_block`` for blocks where few pairs matter: only those pairs are touched."""
    rows, columns = np.nonzero(within)
    kernel = np.exp(exponent[rows, columns])
    mirrored = columns >= own  # pairs reaching outside the block's own rows count for both
    for bound in range(2):
        if bound == 1:
            kernel = np.sqrt(np.sqrt(kernel))
        for label in range(counts.shape[1]):
            sums[bound, :own, label] += np.bincount(rows, kernel * counts[columns, label], minlength=own)
            sums[bound, :, label] += np.bincount(
                columns[mirrored], kernel[mirrored] * counts[rows[mirrored], label], minlength=len(counts)
            )


def _mixture_information_nats(kernel_sums: np.ndarray, classes: np.ndarray) -> tuple[float, float]:
    """I(X;T) and I(T;Y) in nats from per-(row, class) kernel sums."""
    n_samples = len(classes)
    class_sizes = np.bincount(classes, minlength=kernel_sums.shape[1])
    i_xt = -np.mean(np.log(kernel_sums.sum(axis=1) / n_samples))
    within = kernel_sums[np.arange(n_samples), classes] / class_sizes[classes]
    # sum_y p(y) * [-(1/N_y) sum_{i in y} ln(mean_{j in y} K_ij)] = -(1/N) sum_i ln(...)
    i_xt_given_y = -np.mean(np.log(within))
    return float(i_xt), float(i_xt - i_xt_given_y)


def kde_information(
    activations: np.ndarray,
    labels: np.ndarray,
    noise_variance: float = default("noise_variance"),
    block_rows: int | None = None,
    x_ids: np.ndarray | None = None,
    base: float = 2.0,
) -> dict[str, dict[str, float]]:
    """Upper and lower pairwise-distance bounds on H(T), I(X;T), I(T;Y), in units of log ``base``.

    Parameters
    ----------
    activations : (n_samples, n_units) float array.
    labels : (n_samples,) integer class of each row.
    noise_variance : s2, variance of the Gaussian noise added to every unit.
    block_rows : rows per block; memory is about 24 * block_rows * n_samples bytes. Default:
        ``DEFAULT_BLOCK_ROWS``, fewer when the pairwise memory budget
        (``ibpipe.estimators.pairwise.settings``) allows fewer.
    x_ids : (n_samples,) which input each row came from; None: every row a distinct input.
    base : 2 for bits, e for nats.

    Returns
    -------
    ``{"upper": {"H_T", "I_XT", "I_TY"}, "lower": {...}}``. H_T is a differential entropy (it
    can be negative); I_XT lies in [0, H(X)]; I_TY <= H(Y) but may dip below 0 (a difference
    of two bounds), which ``apply_ceilings`` clips and counts.
    """
    points = np.asarray(activations, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    if noise_variance <= 0:
        raise ValueError(f"noise_variance must be > 0, got {noise_variance}")
    key = _call_key(points, labels, x_ids, (noise_variance, block_rows, base, current()))
    with _LAST_LOCK:
        if key is not None and _LAST[0] == key:
            return {bound: dict(values) for bound, values in _LAST[1].items()}
    result = _kde_bounds(points, labels, noise_variance, block_rows, x_ids, base)
    with _LAST_LOCK:
        _LAST[:] = [key, result]
    return {bound: dict(values) for bound, values in result.items()}


# The last call's key and bounds: a user who asks for each bound in its own call (``information(t, y,
# "kde-upper")``, then ``"kde-lower"``) pays for one pass over the distances, not two.
_LAST: list = [None, None]
_LAST_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget the last call's bounds (benchmarks that time cold calls on the same data)."""
    with _LAST_LOCK:
        _LAST[:] = [None, None]


def _call_key(points: np.ndarray, labels, x_ids, options: tuple) -> bytes | None:
    """A digest of everything a KDE call's result depends on: the values, labels, input ids and settings
    (None, so never a hit, for object arrays)."""
    digest = hashlib.blake2b(digest_size=20)
    for array in (points, labels, x_ids):
        if array is not None:
            array = np.ascontiguousarray(array)
            if array.dtype.hasobject:
                return None
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.view(np.uint8).ravel())
        digest.update(b"|")
    digest.update(repr(options).encode())
    return digest.digest()


def _kde_bounds(points, labels, noise_variance, block_rows, x_ids, base) -> dict[str, dict[str, float]]:
    points = points - points.mean(axis=0)  # centring keeps |a|^2 + |b|^2 - 2ab accurate
    _, classes = np.unique(np.asarray(labels), return_inverse=True)
    classes = classes.ravel()
    # Identical rows (saturated units) are one mixture centre with a weight. Their order sets the
    # order of the sums, so narrow layers keep the order by row key that their results always had
    # (ranking a few columns is cheap); wide ones would rank every column, which costs more than the
    # distances, and take the hashed sample of columns instead (the same rows, other rounding).
    if points.shape[1] <= KEY_COLUMNS:
        _, first, row_of_sample = np.unique(row_keys(points.view(np.int64)), return_index=True, return_inverse=True)
        distinct, row_of_sample = points[first], row_of_sample.ravel()
    else:
        first, row_of_sample = distinct_rows(points)
        distinct = points if len(first) == len(points) else points[first]  # all distinct: no copy
    class_counts = np.zeros((len(distinct), classes.max() + 1))
    np.add.at(class_counts, (row_of_sample, classes), 1.0)
    upper_sums, lower_sums = (
        sums[row_of_sample]
        for sums in _class_kernel_sums(
            distinct,
            class_counts,
            noise_variance,
            block_rows or min(DEFAULT_BLOCK_ROWS, default_block_rows(len(distinct))),
        )
    )
    conditional_nats = 0.5 * points.shape[1] * np.log(2 * np.pi * np.e * noise_variance)
    repeated = x_ids is not None and len(np.unique(x_ids)) < len(points)
    result = {}
    for bound, sums, scale in (("upper", upper_sums, 2.0), ("lower", lower_sums, 8.0)):
        h_excess, i_ty = _mixture_information_nats(sums, classes)
        i_xt = h_excess
        if repeated:  # subtract sum_x p(x) [H(T|X=x) - H(T|X) of one point]
            i_xt = h_excess + float(np.mean(within_group_log_mean_kernel(points, x_ids, scale * noise_variance)))
        result[bound] = {
            "H_T": from_nats(conditional_nats + h_excess, base),
            "I_XT": from_nats(i_xt, base),
            "I_TY": from_nats(i_ty, base),
        }
    return result
