"""The compiled pair sweep of the KDE bounds on narrow layers (``ibpipe.estimators.kde``).

Rows come sorted along their first principal axis; every pair i < j within ``reach`` on that axis is
visited once. Compiled code finds the pairs whose Bhattacharyya exponent D_ij / (8 s2) is below the
negligible one, numpy's vectorised exp turns their exponents into kernels, and compiled code adds
each kernel to both rows' class sums. A module of its own: the blocked BLAS path of wide layers and the
bounds' formulas stay in ``kde.py``.
"""

from __future__ import annotations

import numpy as np

from ibpipe.estimators.compiled import cached_njit

try:  # numba is a dependency; without it the blocked numpy path of kde.py answers the same to rounding
    import numba as _numba
except ImportError:  # pragma: no cover
    _numba = None
COMPILED = _numba is not None

# Pairs whose kernels one round of the sweep holds (16 bytes each: the exponent and the column).
SWEEP_PAIRS = 2**20

if _numba is not None:

    @cached_njit(nogil=True)
    def _near_pairs(columns_t, ends, first, stop, scale, exponents, columns, row_ends, squared):  # pragma: no cover
        """The pairs (i, j), ``first`` <= i < ``stop``, i < j < ends[i], with D_ij / (8 s2) below the negligible one.

        ``columns_t``: the points as (unit, row), so the distances of a row to its window run over contiguous
        memory (vectorised); ``scale``: (1 / (8 s2), the negligible exponent). Writes -D_ij / (8 s2) of each
        kept pair to ``exponents`` and j to ``columns``, row by row (a branch-free compaction), and the end of
        row i's pairs to ``row_ends[i - first]``; returns how many pairs it kept. ``squared``: scratch.
        """
        inverse_scale, negligible = scale
        kept = 0
        for i in range(first, stop):
            width = ends[i] - i - 1
            window = squared[:width]
            window[:] = 0.0
            for unit in range(columns_t.shape[0]):
                value = columns_t[unit, i]
                others = columns_t[unit, i + 1 : ends[i]]
                for j in range(width):
                    difference = others[j] - value
                    window[j] += difference * difference
            for j in range(width):
                exponent = window[j] * inverse_scale
                exponents[kept] = -exponent
                columns[kept] = i + 1 + j
                kept += exponent < negligible
            row_ends[i - first] = kept
        return kept

    @cached_njit(nogil=True)
    def _add_pairs(sums, counts, first, stop, kernels, columns, row_ends):  # pragma: no cover - compiled
        """Add each pair's Bhattacharyya kernel b (``kernels``) and KL kernel b^4 to both rows' class sums.

        ``sums`` (n, 2 n_classes): the KL sums, then the Bhattacharyya ones, of each row (one cache line per
        row for both); row i's own sums are gathered apart and added once. Two classes (the 12-bit task)
        keep them in registers.
        """
        n_classes = counts.shape[1]
        row = np.empty(2 * n_classes)
        own = np.empty(n_classes)
        begin = 0
        for i in range(first, stop):
            end = row_ends[i - first]
            row[:] = 0.0
            own[:] = counts[i]
            if n_classes == 2:
                own_0, own_1 = own[0], own[1]
                upper_0, upper_1, lower_0, lower_1 = 0.0, 0.0, 0.0, 0.0
                for pair in range(begin, end):
                    j = columns[pair]
                    lower = kernels[pair]
                    upper = lower * lower
                    upper *= upper
                    count_0, count_1 = counts[j, 0], counts[j, 1]
                    upper_0 += upper * count_0
                    upper_1 += upper * count_1
                    lower_0 += lower * count_0
                    lower_1 += lower * count_1
                    sums[j, 0] += upper * own_0
                    sums[j, 1] += upper * own_1
                    sums[j, 2] += lower * own_0
                    sums[j, 3] += lower * own_1
                row[0], row[1], row[2], row[3] = upper_0, upper_1, lower_0, lower_1
            else:
                for pair in range(begin, end):
                    j = columns[pair]
                    lower = kernels[pair]
                    upper = lower * lower
                    upper *= upper
                    for label in range(n_classes):
                        row[label] += upper * counts[j, label]
                        row[n_classes + label] += lower * counts[j, label]
                        sums[j, label] += upper * own[label]
                        sums[j, n_classes + label] += lower * own[label]
            for column in range(2 * n_classes):
                sums[i, column] += row[column]
            begin = end


def swept_kernel_sums(points, counts, projection, inverse_scale, reach, negligible) -> np.ndarray:
    """The kernel sums (2, n, n_classes) of ``kde._class_kernel_sums`` without an N x N array, rows sorted by
    ``projection``: pairs with D_ij / (8 s2) below ``negligible`` (the blocked path's cut) get the Bhattacharyya
    kernel b = exp(-D_ij / (8 s2)) and the KL kernel b^4 = exp(-D_ij / (2 s2)) in both rows' sums.

    Rows go in rounds of at most ``SWEEP_PAIRS`` visited pairs (one row's pairs at least): memory is
    O(that + N).
    """
    n_points = len(points)
    ends = np.searchsorted(projection, projection + reach, side="right")
    visited = np.cumsum(ends - np.arange(n_points) - 1)
    capacity = max(SWEEP_PAIRS, int(np.max(np.diff(visited, prepend=0), initial=0)))
    exponents, columns = np.empty(capacity), np.empty(capacity, dtype=np.int32)
    squared = np.empty(int(np.max(ends - np.arange(n_points), initial=1)))
    columns_t = np.ascontiguousarray(points.T)
    row_ends = np.empty(n_points, dtype=np.int64)
    sums = np.concatenate([counts, counts], axis=1)  # the j = i term: exp(0) = 1
    first, done = 0, 0
    while first < n_points:
        stop = max(first + 1, int(np.searchsorted(visited, done + capacity, side="right")))
        scale = (inverse_scale, negligible)
        kept = _near_pairs(columns_t, ends, first, stop, scale, exponents, columns, row_ends, squared)
        np.exp(exponents[:kept], out=exponents[:kept])
        _add_pairs(sums, counts, first, stop, exponents, columns, row_ends)
        first, done = stop, int(visited[stop - 1])
    n_classes = counts.shape[1]
    return np.stack([sums[:, :n_classes], sums[:, n_classes:]])
