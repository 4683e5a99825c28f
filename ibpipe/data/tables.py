"""Datasets shipped with scikit-learn (no download): the 8x8 digits as images, iris and wine as standardised tables."""

from __future__ import annotations
from dataclasses import dataclass
from pathlib import Path
import numpy as np
from ibpipe.data.images import TORCHVISION_CLASSES, default_root, load_official_split
from ibpipe.data.tishby12 import load_tishby12



def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits (shipped with the package, no download) as (n, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images[:, None] / 16.0).astype(np.float32), digits.target.astype(np.int64)


def load_standardised_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's iris (150 x 4, 3 classes) or wine (178 x 13, 3 classes), each feature z-scored over all rows."""
    from sklearn import datasets

    table = {"iris": datasets.load_iris, "wine": datasets.load_wine}[name]()
    features = table.data.astype(np.float64)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    return features.astype(np.float32), table.target.astype(np.int64)
