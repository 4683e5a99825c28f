"""A synthetic gait-like accelerometer signal, and its autoregressive windows.

Walking makes a vertical acceleration that repeats with every step: a fundamental at the step
frequency (about 1.5-2 Hz) and a few harmonics (heel strike is sharp), whose amplitude (effort,
terrain) and cadence drift slowly, plus sensor noise. ``gait_signal`` draws such a signal at
50 Hz, the rate of the accelerometer study it stands in for:

    s(t) = a(t) * sum_k c_k sin(k phi(t) + theta_k) + sigma * e(t),
    phi(t) = 2 pi integral_0^t f(u) du,   f(t) = f0 (1 + 0.05 r1(t)),   a(t) = 1 + 0.3 r2(t),

with c = (1, 0.5, 0.25) (harmonics 1..3), theta_k uniform phases, e(t) white standard normal noise
and r1, r2 smooth random drifts in [-1, 1]: sums of three sinusoids of random frequencies below
0.05 Hz (periods over 20 s, many steps), scaled by their maximum. Everything is drawn from one
seeded ``numpy.random.default_rng``, so a seed gives the same signal on every machine.

``autoregressive_windows`` turns a series into rows (s_t .. s_{t+h-1}) with targets
(s_{t+h} .. s_{t+h+horizon-1}).
"""

from __future__ import annotations

import numpy as np

SAMPLING_RATE_HZ = 50.0
HARMONIC_AMPLITUDES = (1.0, 0.5, 0.25)


def _smooth_drift(times: np.ndarray, rng: np.random.Generator, max_frequency: float = 0.05) -> np.ndarray:
    frequencies = rng.uniform(0.2, 1.0, 3) * max_frequency
    phases = rng.uniform(0, 2 * np.pi, 3)
    drift = np.sin(2 * np.pi * frequencies[:, None] * times[None, :] + phases[:, None]).sum(axis=0)
    return drift / np.max(np.abs(drift))


def gait_signal(
    n_samples: int, seed: int = 0, step_frequency: float = 1.8, noise: float = 0.1, rate: float = SAMPLING_RATE_HZ
) -> np.ndarray:
    """``n_samples`` values of the signal above at ``rate`` Hz (float64, in units of the fundamental's amplitude)."""
    if n_samples < 1 or step_frequency <= 0 or noise < 0 or rate <= 0:
        raise ValueError("n_samples, step_frequency and rate must be positive and noise non-negative")
    rng = np.random.default_rng(seed)
    times = np.arange(n_samples) / rate
    frequency = step_frequency * (1 + 0.05 * _smooth_drift(times, rng))
    phase = 2 * np.pi * np.concatenate([[0.0], np.cumsum(frequency[:-1]) / rate])
    amplitude = 1 + 0.3 * _smooth_drift(times, rng)
    offsets = rng.uniform(0, 2 * np.pi, len(HARMONIC_AMPLITUDES))
    periodic = sum(
        c * np.sin((k + 1) * phase + theta) for k, (c, theta) in enumerate(zip(HARMONIC_AMPLITUDES, offsets))
    )
    return amplitude * periodic + noise * rng.standard_normal(n_samples)


def autoregressive_windows(series: np.ndarray, window: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, window) = (s_t .. s_{t+window-1}) and targets (n, horizon) = (s_{t+window} ..
    s_{t+window+horizon-1}) for t = 0..n-1, n = len(series) - window - horizon + 1."""
    series = np.asarray(series)
    n = len(series) - window - horizon + 1
    if window < 1 or horizon < 1 or n < 1:
        raise ValueError(f"a series of {len(series)} values has no window of {window} inputs and {horizon} targets")
    rows = np.lib.stride_tricks.sliding_window_view(series, window + horizon)[:n]
    return rows[:, :window].copy(), rows[:, window:].copy()
