"""Do a series model's neurons lie on a circle? Their incoming weights seen in the plane of the
input's first two principal axes.

For a periodic input the first two principal axes of the windows are (close to) the sine and
cosine of the fundamental, so w . e1 and w . e2 are a neuron's gain and phase on it: neurons
that respond to the fundamental with equal gain and different phases lie on a circle in that
plane (the structure the accelerometer study reports for a 100-3-100 autoregressive net). The
components of w outside the input's span do not change the net's function on the data and
keep their random initial values, which is why the plane of the inputs, not of the weights, is
the one to look in.

``circle_structure`` returns the projections, the radius's coefficient of variation (std / mean;
0 on a perfect circle centred at the origin) and the largest angular gap between neighbours
(360 degrees / n when evenly spread).
"""

from __future__ import annotations

import numpy as np


def input_plane(inputs: np.ndarray) -> np.ndarray:
    """The first two principal axes (2, d) of the inputs (centred), signs fixed by their largest entry."""
    centred = np.asarray(inputs, dtype=np.float64) - np.mean(inputs, axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
    return axes * np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]


def circle_structure(weights: np.ndarray, plane: np.ndarray) -> dict[str, float | np.ndarray]:
    """Projections (n, 2) of the neurons' incoming weights (n, d) on ``plane`` (2, d), with
    ``radius_cv`` and ``largest_gap_degrees``."""
    projections = np.asarray(weights, dtype=np.float64) @ np.asarray(plane, dtype=np.float64).T
    radii = np.linalg.norm(projections, axis=1)
    angles = np.sort(np.degrees(np.arctan2(projections[:, 1], projections[:, 0])))
    gaps = np.diff(np.concatenate([angles, [angles[0] + 360.0]]))
    return {
        "projections": projections,
        "radius_cv": float(radii.std() / radii.mean()) if radii.mean() > 0 else float("nan"),
        "largest_gap_degrees": float(gaps.max()),
    }
