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

from dataclasses import dataclass, replace

import numpy as np
import torch

from ibpipe.data.datasets import load_dataset
from ibpipe.neurons.gait import autoregressive_windows, gait_signal
from ibpipe.neurons.params import SERIES_DATASETS
from ibpipe.neurons.projection import project
from ibpipe.neurons.projection import projection as input_projection
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
    *,
    root: str = "auto",
    max_rows: int = 0,
    dim: int = 0,
    projection: str = "pca",
) -> NeuronTask:
    """The task of ``neurons.bootstrap`` (see the module docstring); ``max_rows`` > 0 keeps a seeded subset
    (seed ``split_seed``) of at most that many training and test rows, ``dim`` > 0 projects the inputs
    (``ibpipe.neurons.projection``, the random one seeded by ``split_seed``)."""
    if dataset in SERIES_DATASETS:
        task = series_task(series_length, window, horizon, test_fraction, split_seed)
    else:
        data = load_dataset(dataset, test_fraction, split_seed, root=root)
        inputs = data.inputs.reshape(len(data.inputs), -1)
        task = NeuronTask(
            "classification",
            inputs[data.train_rows],
            data.labels[data.train_rows],
            inputs[data.test_rows],
            data.labels[data.test_rows],
            data.n_classes,
        )
    if max_rows:
        rng = np.random.default_rng(split_seed)
        train = np.sort(rng.permutation(len(task.train_x))[:max_rows])
        test = np.sort(rng.permutation(len(task.test_x))[:max_rows])
        task = replace(task, train_x=task.train_x[train], train_y=task.train_y[train])
        task = replace(task, test_x=task.test_x[test], test_y=task.test_y[test])
    if dim:
        centre, matrix = input_projection(task.train_x, dim, projection, split_seed)
        task = replace(task, train_x=project(task.train_x, centre, matrix), test_x=project(task.test_x, centre, matrix))
    return task


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
        root=bootstrap.root,
        max_rows=bootstrap.max_rows,
        dim=bootstrap.dim,
        projection=bootstrap.projection,
    )
