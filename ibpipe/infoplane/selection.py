"""Which epochs get measured.

Epoch 0 is the initial network and epoch E the network after E passes, so a run of E
epochs has E + 1 measurable epochs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import pairwise

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


def epoch_schedule(
    method: str,
    epochs: int,
    *,
    every: int = 100,
    n_points: int = 400,
    step_bounds: tuple[int, ...] = (20, 100, 2000),
    step_sizes: tuple[int, ...] = (1, 5, 20, 100),
) -> np.ndarray:
    """Sorted epochs chosen by ``select.method`` (the schedules that need no measurement)."""
    if method == "all":
        return all_epochs(epochs)
    if method == "every":
        return every_nth_epoch(epochs, every)
    if method == "log":
        return log_spaced_epochs(epochs, n_points)
    if method == "stepped":
        return stepped_epochs(epochs, tuple(step_bounds), tuple(step_sizes))
    raise ValueError(f"unknown select.method {method!r}; known: all, every, log, stepped")


def stepped_epochs(
    epochs: int, bounds: tuple[int, ...] = (20, 100, 2000), steps: tuple[int, ...] = (1, 5, 20, 100)
) -> np.ndarray:
    """Saxe et al.'s schedule: every ``steps[0]``-th epoch below ``bounds[0]``, every ``steps[1]``-th
    below ``bounds[1]``, ..., then every ``steps[-1]``-th; always the last epoch.

    With the defaults: every epoch < 20, every 5th < 100, every 20th < 2000, then every 100th.
    """
    if len(steps) != len(bounds) + 1:
        raise ValueError(f"need one more step than bounds, got bounds {bounds} and steps {steps}")
    if list(bounds) != sorted(bounds) or min(steps) < 1:
        raise ValueError(f"bounds must increase and steps be >= 1, got {bounds} and {steps}")
    starts = (0, *bounds)
    stops = (*bounds, epochs + 1)
    pieces = [np.arange(start, min(stop, epochs + 1), step) for start, stop, step in zip(starts, stops, steps)]
    return np.union1d(np.concatenate(pieces), [epochs])


# ---------------------------------------------------------------- delta-skip

# How far apart two epochs are: "normalised" divides each change |I_e(s;T) - I_e'(s;T)| by H(s), so delta is
# a fraction of the source's entropy; "unnormalised" is the dissertation's Eq. 3.8, the largest change itself,
# in bits, so delta is in bits and a layer's change counts alike for X (12 bits) and Y (1 bit).
DELTA_DISTANCES = ("normalised", "unnormalised")

# A probe measures a batch of epochs and returns, per epoch, an array (n_layers, 2) of
# (I(X;T), I(T;Y)) in bits; a batch lets the caller run the measurements in parallel.
Probe = Callable[[list[int]], Mapping[int, np.ndarray]]


def information_distance(a: np.ndarray, b: np.ndarray, source_entropies: tuple[float, float]) -> float:
    """max over layers and s in {X, Y} of |I_a(s;T) - I_b(s;T)| / H(s).

    A value that is NaN (non-finite activations: diverged training) in one epoch and not in the
    other is infinitely far, so the exact search bisects the gap down to the epoch where the
    network diverged; a value NaN in both epochs adds nothing (there is nothing to resolve between
    two diverged epochs, and bisecting them would measure every epoch after the divergence).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scaled = np.abs(a - b) / np.asarray(source_entropies, dtype=np.float64)
    scaled = np.where(np.isnan(a) & np.isnan(b), 0.0, np.where(np.isnan(a) != np.isnan(b), np.inf, scaled))
    return float(np.max(scaled))


class _ProbeCache:
    """Every epoch's information is measured once, however often the search asks for it."""

    def __init__(self, probe: Probe, source_entropies: tuple[float, float]):
        self.probe, self.source_entropies, self.values = probe, source_entropies, {}

    def measure(self, epochs) -> None:
        missing = sorted({int(e) for e in epochs} - set(self.values))
        if missing:
            measured = self.probe(missing)
            self.values.update({int(epoch): np.asarray(measured[epoch]) for epoch in missing})

    def distance(self, a: int, b: int) -> float:
        self.measure([a, b])
        return information_distance(self.values[a], self.values[b], self.source_entropies)


def _result(cache: _ProbeCache, measured) -> dict:
    epochs = sorted(set(measured))
    return {
        "epochs": epochs,
        "distances": [cache.distance(a, b) for a, b in pairwise(epochs)],
        "probed": sorted(cache.values),
    }


def _within(distance: float, delta: float) -> bool:
    """Whether two epochs are close enough to skip what lies between; a NaN distance (from a custom
    distance) never is, so the exact search bisects such a gap down to adjacent epochs."""
    return bool(distance <= delta)  # False for NaN


def _check_delta(delta: float, factor: float) -> None:
    if delta <= 0 or factor <= 1:
        raise ValueError(f"need delta > 0 and factor > 1, got {delta} and {factor}")


def distance_scales(source_entropies: tuple[float, float], distance: str) -> tuple[float, float]:
    """What each change of (I(X;T), I(Y;T)) is divided by: (H(X), H(Y)) when normalised, 1 bit for Eq. 3.8."""
    if distance not in DELTA_DISTANCES:
        raise ValueError(f"distance = {distance!r}: allowed are {', '.join(DELTA_DISTANCES)}")
    return tuple(source_entropies) if distance == "normalised" else (1.0, 1.0)


def _forward_pass(cache: _ProbeCache, epochs: int, delta: float, factor: float, shrink_after_jump: bool) -> list[int]:
    """Epochs 0..E stepping by a skip that grows by ``factor`` after every jump within delta.

    After a jump farther than delta the skip shrinks by ``factor`` (exact search, which will
    bisect that gap anyway) or stays as it is (approximate search).
    """
    measured, current, skip = [0], 0, 1.0
    while current < epochs:
        following = min(current + max(1, int(skip)), epochs)
        if _within(cache.distance(current, following), delta):
            skip *= factor
        elif shrink_after_jump:
            skip = max(1.0, skip / factor)
        measured.append(following)
        current = following
    return measured


def delta_skip_exact(
    epochs: int,
    probe: Probe,
    source_entropies: tuple[float, float],
    delta: float,
    factor: float = 2.0,
    distance: str = "normalised",
) -> dict:
    """Epochs such that consecutive measured epochs are within ``delta`` or adjacent.

    A forward pass grows the skip by ``factor`` while the distance stays <= delta (and
    shrinks it after a jump that was too far); then every gap still farther apart than delta
    is bisected, all gaps of one round probed as one batch, until none is left. ``distance`` is
    "normalised" (changes divided by the source entropies) or "unnormalised" (Eq. 3.8: in bits).
    Returns ``{"epochs", "distances", "probed"}``.
    """
    _check_delta(delta, factor)
    cache = _ProbeCache(probe, distance_scales(source_entropies, distance))
    measured = _forward_pass(cache, epochs, delta, factor, shrink_after_jump=True)
    while True:
        gaps = [(a, b) for a, b in pairwise(measured) if b - a > 1 and not _within(cache.distance(a, b), delta)]
        if not gaps:
            return _result(cache, measured)
        midpoints = [(a + b) // 2 for a, b in gaps]
        cache.measure(midpoints)
        measured = sorted(set(measured) | set(midpoints))


def delta_skip_approximate(
    epochs: int,
    probe: Probe,
    source_entropies: tuple[float, float],
    delta: float,
    factor: float = 2.0,
    distance: str = "normalised",
) -> dict:
    """One forward pass, never backtracking: keep the skip after a jump farther than delta, grow it otherwise.

    ``distance`` as in :func:`delta_skip_exact`."""
    _check_delta(delta, factor)
    cache = _ProbeCache(probe, distance_scales(source_entropies, distance))
    return _result(cache, _forward_pass(cache, epochs, delta, factor, shrink_after_jump=False))


# ---------------------------------------------------------------- weights recorded outside the pipeline

RECORDER_PARAMS = "recorder"  # the params section an ``ibpipe.Recorder`` store carries instead of train's


def selectable_epochs(weights: str, method: str, train_epochs: int, searches: tuple[str, ...]) -> int:
    """The last epoch ``select`` chooses from: ``train.epochs`` for the train stage's weights, the last recorded
    epoch for weights an ``ibpipe.Recorder`` wrote (its run's length is not in params.yaml).

    A delta-skip search (``method`` in ``searches``) rebuilds the network at any epoch 0..E, so a recorded
    run must hold the weights of every epoch and name the factory that rebuilds the network; each lack is
    refused in one sentence saying what to record.
    """
    import json

    from ibpipe.errors import InputError, UserError
    from ibpipe.io.stores import open_store

    try:
        root = open_store(weights)
    except UserError:
        if method in searches:
            raise
        return train_epochs  # a fixed schedule needs only train.epochs
    params = json.loads(root.attrs.get("params") or "{}")
    if RECORDER_PARAMS not in params:
        return train_epochs
    epochs = np.asarray(root["epoch"][...], dtype=np.int64)
    if not len(epochs):
        raise InputError(f"{weights} holds no recorded epoch; call rec.step(epoch) in the training loop")
    last = int(epochs[-1])
    if method not in searches:
        return last
    missing = np.setdiff1d(np.arange(last + 1), epochs)
    if len(missing):
        raise InputError(
            f"select.method {method} probes any epoch 0..{last}, but {weights} holds {len(epochs)} recorded epochs "
            f"(epoch {missing[0]} is missing); record every epoch with ibpipe.Recorder(..., schedule='every') "
            "and rec.step(0) before training, or choose a fixed select.method (all, every, log, stepped)"
        )
    if root.attrs.get("model", {}).get("arch") != "custom":
        raise InputError(
            f"select.method {method} rebuilds the network at the epochs it probes, but {weights} was recorded "
            "without a model factory; pass factory='package.module:function' (and factory_kwargs) to "
            "ibpipe.Recorder so the network can be rebuilt from the recorded weights"
        )
    return last
