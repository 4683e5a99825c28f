"""Rows grouped by the input they came from (``x_ids``), in batches of equal-sized groups.

Conditional terms H(T|X=x) need sums over the rows of one input only. Looping over inputs
in Python is slow for thousands of inputs; grouping inputs by their number of rows gives a
few dense (n_groups, size, ...) arrays instead, each processed in one numpy call.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Elements (groups x size x size) of one batch's pairwise array: ~32 MB of float64.
BATCH_ELEMENTS = 4_000_000


def equal_size_groups(group_of_row: np.ndarray, rows_per_member: int = 1) -> Iterator[np.ndarray]:
    """Yield index arrays (n_groups, size): the rows of ``n_groups`` groups that each hold ``size`` rows.

    Every row appears exactly once over all batches. ``rows_per_member`` scales the batch
    size down when each row later stands for that many points (noise draws).
    """
    _, group, sizes = np.unique(np.asarray(group_of_row).ravel(), return_inverse=True, return_counts=True)
    order = np.argsort(group, kind="stable")
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    for size in np.unique(sizes).tolist():
        chosen = np.flatnonzero(sizes == size)
        rows = order[starts[chosen][:, None] + np.arange(size)[None, :]]
        per_batch = max(1, BATCH_ELEMENTS // (size * size * rows_per_member * rows_per_member))
        for start in range(0, len(rows), per_batch):
            yield rows[start : start + per_batch]


def within_group_log_mean_kernel(points: np.ndarray, group_of_row: np.ndarray, scale: float) -> np.ndarray:
    """For every row i: ln[(1/n_x) sum_{j: x_j = x_i} exp(-|t_i - t_j|^2 / scale)] (j = i included)."""
    result = np.empty(len(points))
    for rows in equal_size_groups(group_of_row):
        members = points[rows]  # (groups, size, d)
        norms = np.einsum("gsd,gsd->gs", members, members)
        squared = norms[:, :, None] + norms[:, None, :] - 2.0 * members @ members.transpose(0, 2, 1)
        result[rows] = np.log(np.mean(np.exp(-np.maximum(squared, 0.0) / scale), axis=2))
    return result
