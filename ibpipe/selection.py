"""Which epochs get measured.

Epoch 0 is the initial network and epoch E the network after E passes, so a run of E
epochs has E + 1 measurable epochs.
"""

from __future__ import annotations

import numpy as np


def all_epochs(epochs: int) -> np.ndarray:
    return np.arange(epochs + 1)


def every_nth_epoch(epochs: int, step: int) -> np.ndarray:
    """0, step, 2 step, ... and always the last epoch."""
    return np.union1d(np.arange(0, epochs + 1, step), [epochs])


def log_spaced_epochs(epochs: int, n_points: int) -> np.ndarray:
    """The IDNNs schedule: ``unique(logspace(0, log2(E + 1), n_points, base=2).astype(int)) - 1``.

    Dense early, sparse late; always starts at epoch 0 and ends at epoch E. For E = 8000
    and 400 points it keeps 274 epochs. Truncation gets a 1e-9 guard so that floating
    error in ``logspace`` cannot drop the last epoch (2**log2(E + 1) may land just below E + 1).
    """
    points = np.logspace(0, np.log2(epochs + 1), n_points, base=2)
    return np.unique(np.floor(points + 1e-9).astype(np.int64)) - 1


def epoch_schedule(method: str, epochs: int, every: int = 100, n_points: int = 400) -> np.ndarray:
    """Sorted epochs chosen by ``select.method``."""
    if method == "all":
        return all_epochs(epochs)
    if method == "every":
        return every_nth_epoch(epochs, every)
    if method == "log":
        return log_spaced_epochs(epochs, n_points)
    raise ValueError(f"unknown select.method {method!r}; known: all, every, log")
