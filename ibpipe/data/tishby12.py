"""The 12-bit dataset of Shwartz-Ziv & Tishby (2017), regenerated from its rule.

Every binary pattern of length 12 is one input; the label is a fixed function of the
pattern built on the 12 vertices of an icosahedron. The rule below reproduces the
published ``var_u.mat`` exactly: 4096 rows, 2118 ones, p(y=1) = 0.51709.
"""

from __future__ import annotations

import numpy as np

N_BITS = 12
# Which icosahedron vertex each input column sits on (reverse-engineered from the published file).
VERTEX_OF_COLUMN = (0, 2, 9, 4, 11, 10, 7, 1, 6, 3, 8, 5)
LABEL_THRESHOLD = 7.6


def icosahedron_vertices() -> np.ndarray:
    """Return the 12 unit vectors of an icosahedron, shape (12, 3), in the rule's order."""
    phi = (1 + np.sqrt(5)) / 2
    vertices = [
        np.roll((0.0, s1, s2 * phi), shift)
        for shift in range(3)
        for s1, s2 in ((1, 1), (1, -1), (-1, 1), (-1, -1))
    ]
    vertices = np.asarray(vertices)
    return vertices / np.linalg.norm(vertices, axis=1, keepdims=True)


def all_patterns(n_bits: int = N_BITS) -> np.ndarray:
    """All 2**n_bits binary rows; row i is i in binary, most significant bit first."""
    rows = np.arange(2**n_bits)[:, None]
    shifts = np.arange(n_bits - 1, -1, -1)[None, :]
    return ((rows >> shifts) & 1).astype(np.uint8)


def tishby12_labels(patterns: np.ndarray) -> np.ndarray:
    """y = 1 iff k + |sum_j x_j U_j| > 7.6, with k the number of ones and U the vertices."""
    vertices = icosahedron_vertices()[list(VERTEX_OF_COLUMN)]
    n_ones = patterns.sum(axis=1)
    resultant = np.linalg.norm(patterns @ vertices, axis=1)
    return (n_ones + resultant > LABEL_THRESHOLD).astype(np.int64)


def load_tishby12() -> tuple[np.ndarray, np.ndarray]:
    """Return inputs (4096, 12) as float32 in {0, 1} and labels (4096,) in {0, 1}."""
    patterns = all_patterns()
    return patterns.astype(np.float32), tishby12_labels(patterns)
