"""Linear probes and class clustering of each layer: how much of the label a layer makes usable.

Per (epoch, layer) a multinomial logistic regression (fixed L2 strength, features standardised on
the probe-train rows, warm-started from the previous epoch) is fit on a probe-train split of the
measured rows and scored on the held-out rest (Alain & Bengio, "Understanding intermediate
layers using linear classifier probes", 2016):

* ``probe_accuracy``: held-out accuracy of the probe.
* ``usable_information`` (bits): the predictive V-information of Xu, Zhao, Song, Stewart & Ermon
  (ICLR 2020) for V = linear softmax classifiers,
  I_V(T -> Y) = CE_test(prior) - CE_test(probe), divided by ln 2, where the prior predicts the
  probe-train class frequencies (H_V(Y | null), which is ~H(Y)). About H(Y) for a layer that
  separates the classes linearly, about 0 for one independent of the label; it can be slightly
  negative (held-out estimate).
* ``class_separation``: the silhouette score (Rousseeuw, 1987) of the layer's rows grouped by
  class, on a fixed seeded subsample: mean over rows of (b - a) / max(a, b), a the mean distance
  to the own class, b to the nearest other class. 1 = tight separate class clusters, ~0 =
  overlapping; the clustering view of "compression" (Goldfeld et al., ICML 2019).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import xarray as xr

PROBE_VARIABLES = {
    "probe_accuracy": ("held-out accuracy of a linear probe on the layer", "1"),
    "usable_information": ("usable (V-)information of a linear probe, H_V(Y) - CE_test (Xu et al. 2020)", "bit"),
    "class_separation": ("silhouette score of the layer's rows grouped by class", "1"),
}


class ProbeSplit(NamedTuple):
    train: np.ndarray  # positions of the measured rows the probes are fit on
    test: np.ndarray  # held-out positions they are scored on
    separation: np.ndarray  # subsample the silhouette is computed on


class ProbeScore(NamedTuple):
    accuracy: float
    usable_bits: float


def probe_split(labels: np.ndarray, test_fraction: float, seed: int, separation_rows: int) -> ProbeSplit:
    """A stratified probe-train / held-out split of the rows and a seeded subsample for the silhouette."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(labels))
    train, test = train_test_split(positions, test_size=test_fraction, random_state=seed, stratify=labels)
    rng = np.random.default_rng(seed)
    separation = np.sort(rng.choice(positions, size=min(separation_rows, len(positions)), replace=False))
    return ProbeSplit(np.sort(train), np.sort(test), separation)


def prior_cross_entropy_bits(train_labels: np.ndarray, test_labels: np.ndarray, n_classes: int) -> float:
    """Held-out cross-entropy (bits) of predicting the probe-train class frequencies (add-one smoothed)."""
    counts = np.bincount(train_labels, minlength=n_classes) + 1.0
    prior = counts / counts.sum()
    return float(-np.mean(np.log2(prior[test_labels])))


class LayerProbe:
    """One layer's probe over epochs: ``score(values)`` per epoch, warm-started from the epoch before."""

    def __init__(self, split: ProbeSplit, labels: np.ndarray, n_classes: int, l2_c: float, max_iter: int):
        from sklearn.linear_model import LogisticRegression

        self.split, self.labels, self.n_classes = split, labels, n_classes
        self.model = LogisticRegression(C=l2_c, max_iter=max_iter, warm_start=True)
        self.prior_bits = prior_cross_entropy_bits(labels[split.train], labels[split.test], n_classes)

    def score(self, values: np.ndarray) -> ProbeScore:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.metrics import log_loss

        values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        train, test = values[self.split.train], values[self.split.test]
        mean, scale = train.mean(axis=0), train.std(axis=0)
        scale[scale == 0] = 1.0  # a constant unit carries nothing; keep it at 0
        train, test = (train - mean) / scale, (test - mean) / scale
        with warnings.catch_warnings():
            # a few iterations per epoch suffice from a warm start; the last ones converge
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(train, self.labels[self.split.train])
        probabilities = self.model.predict_proba(test)
        test_labels = self.labels[self.split.test]
        accuracy = float(np.mean(self.model.classes_[probabilities.argmax(axis=1)] == test_labels))
        cross_entropy = log_loss(test_labels, probabilities, labels=self.model.classes_) / np.log(2)
        return ProbeScore(accuracy, self.prior_bits - float(cross_entropy))


def class_separation(values: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette score of ``values`` (rows) grouped by ``labels``; NaN with fewer than two classes."""
    from sklearn.metrics import silhouette_score

    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(silhouette_score(values, labels))


def probe_layers(
    read: Callable[[str, int], np.ndarray],
    layers: Sequence[str],
    epochs: Sequence[int],
    labels: np.ndarray,
    split: ProbeSplit,
    l2_c: float = 1.0,
    max_iter: int = 100,
) -> xr.Dataset:
    """probe_accuracy, usable_information and class_separation, dims (epoch, layer).

    ``read(layer, position)`` returns the (n_rows, n_units) activations of the measured epoch at
    ``position``; ``epochs`` are their epoch numbers, in order (the probes warm-start along them).
    """
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = int(labels.max()) + 1
    results = {name: np.full((len(epochs), len(layers)), np.nan) for name in PROBE_VARIABLES}
    non_finite = []
    for column, layer in enumerate(layers):
        probe = LayerProbe(split, labels, n_classes, l2_c, max_iter)
        for row in range(len(epochs)):
            values = read(layer, row)
            if not np.all(np.isfinite(values)):
                non_finite.append(f"{layer}@{epochs[row]}")
                continue
            score = probe.score(values)
            results["probe_accuracy"][row, column] = score.accuracy
            results["usable_information"][row, column] = score.usable_bits
            results["class_separation"][row, column] = class_separation(
                values[split.separation], labels[split.separation]
            )
    if non_finite:
        warnings.warn(
            f"non-finite activations (layer@epoch): {', '.join(non_finite)}; their probes are NaN", stacklevel=2
        )
    data_vars = {
        name: (("epoch", "layer"), values, {"long_name": PROBE_VARIABLES[name][0], "units": PROBE_VARIABLES[name][1]})
        for name, values in results.items()
    }
    prior_bits = prior_cross_entropy_bits(labels[split.train], labels[split.test], n_classes)
    return xr.Dataset(
        data_vars,
        coords={"epoch": np.asarray(epochs, dtype=np.int64), "layer": list(layers)},
        attrs={"H_Y_prior": prior_bits, "n_probe_train": len(split.train), "n_probe_test": len(split.test)},
    )


def earliest_layer_reaching_output(accuracy: xr.DataArray, output_layer: str, tolerance: float = 0.01) -> str | None:
    """The first layer (forward order) whose final-epoch probe accuracy is within ``tolerance`` of the output's."""
    final = accuracy.isel(epoch=-1)
    target = float(final.sel(layer=output_layer))
    if not np.isfinite(target):
        return None
    for layer in accuracy.layer.values.tolist():
        if float(final.sel(layer=layer)) >= target - tolerance:
            return layer
    return None


def spread_positions(n_measured: int, max_epochs: int) -> np.ndarray:
    """At most ``max_epochs`` positions spread evenly over ``n_measured``, the first and last kept (0 = all)."""
    if max_epochs == 0 or max_epochs >= n_measured:
        return np.arange(n_measured)
    return np.unique(np.linspace(0, n_measured - 1, max_epochs).round().astype(np.int64))
