"""The task of the neuron experiment: classification of a scikit-learn table, or autoregressive
forecasting of the synthetic gait series (``ibpipe.neurons.gait``).

The series lives here rather than in the dataset registry ``ibpipe.data.datasets``: that registry
describes classification data (integer labels, stratified splits, classes), while a forecast has
real-valued targets and a split in time. Its generator sits in ``ibpipe.neurons.gait``, not
``ibpipe/data``, because the autoencoder stages declare that whole folder as a dependency and would
rerun on a file they never read. Both tasks come out as the same ``NeuronTask`` (train
and test inputs and targets, the loss and the scores), so every later step has one code path.

Series task: the signal of ``series_length`` samples (seed ``split_seed``) is z-scored with the
mean and standard deviation of its training part, cut into windows of ``window`` inputs and
``horizon`` targets; the first (1 - test_fraction) of the windows train and the windows that start
after the last training target test (no value is both a training target and a test input).
Scores: ``mse``, the mean squared error over all targets, and ``one_step_mse``, that of the
first target alone, the one-step forecast, both in units of the signal's variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ibpipe.data.datasets import load_dataset
from ibpipe.neurons.gait import autoregressive_windows, gait_signal
from ibpipe.neurons.params import SERIES_DATASETS
from ibpipe.nn.training import classification_loss


@dataclass(frozen=True)
class NeuronTask:
    """Rows of a task: inputs (n, d) float32; targets int64 labels (classification) or float32 (n, horizon)."""

    kind: str  # "classification" | "series"
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    n_out: int

    @property
    def loss(self) -> str:
        return "cross_entropy" if self.kind == "classification" else "mse"

    @property
    def primary_score(self) -> str:
        return "accuracy" if self.kind == "classification" else "mse"

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "classification"


def load_task(
    dataset: str,
    test_fraction: float,
    split_seed: int,
    window: int = 100,
    horizon: int = 1,
    series_length: int = 3000,
) -> NeuronTask:
    """The task of ``neurons.bootstrap`` (see the module docstring)."""
    if dataset in SERIES_DATASETS:
        return series_task(series_length, window, horizon, test_fraction, split_seed)
    data = load_dataset(dataset, test_fraction, split_seed)
    inputs = data.inputs.reshape(len(data.inputs), -1)
    return NeuronTask(
        "classification",
        inputs[data.train_rows],
        data.labels[data.train_rows],
        inputs[data.test_rows],
        data.labels[data.test_rows],
        data.n_classes,
    )


def series_task(length: int, window: int, horizon: int, test_fraction: float, seed: int) -> NeuronTask:
    series = gait_signal(length, seed)
    inputs, targets = autoregressive_windows(series, window, horizon)
    n_train = round(len(inputs) * (1 - test_fraction))
    first_test = n_train + window + horizon - 1
    if n_train < 2 or first_test >= len(inputs):
        raise ValueError(
            f"{length} samples leave no test windows of {window} + {horizon} after {n_train} training ones"
        )
    seen = series[: n_train + window + horizon - 1]
    centre, scale = seen.mean(), seen.std()
    inputs, targets = ((a - centre) / scale for a in (inputs, targets))
    return NeuronTask(
        "series",
        inputs[:n_train].astype(np.float32),
        targets[:n_train].astype(np.float32),
        inputs[first_test:].astype(np.float32),
        targets[first_test:].astype(np.float32),
        horizon,
    )


def regression_loss(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error over rows and targets."""
    return torch.nn.functional.mse_loss(model(inputs), targets)


LOSSES = {"cross_entropy": classification_loss, "mse": regression_loss}


@torch.no_grad()
def scores(net: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray, kind: str) -> dict[str, float]:
    """accuracy (classification) or mse and one_step_mse (series) of ``net`` on these rows."""
    dtype = next(net.parameters()).dtype
    outputs = net(torch.as_tensor(np.asarray(inputs), dtype=dtype)).numpy()
    if kind == "classification":
        return {"accuracy": float(np.mean(outputs.argmax(axis=1) == np.asarray(targets)))}
    errors = (outputs - np.asarray(targets, dtype=np.float64)) ** 2
    return {"mse": float(errors.mean()), "one_step_mse": float(errors[:, 0].mean())}


def task_of(bootstrap) -> NeuronTask:
    """The task a validated ``neurons.bootstrap`` section names (as stored in bootstrap.nc's params)."""
    return load_task(
        bootstrap.dataset,
        bootstrap.test_fraction,
        bootstrap.split_seed,
        bootstrap.window,
        bootstrap.horizon,
        bootstrap.series_length,
    )
