"""The ``neurons`` section: the neuron parameter-space experiment, one sub-section per stage.

``neurons.bootstrap`` (stage bootstrap), ``neurons.gaussians`` (stage neuron-gaussians) and
``neurons.compress`` (stage compress).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key, list_of, number, one_of, scheduler, text
from ibpipe.neurons.names import METRICS, NEURON_DATASETS
from ibpipe.nn.activations import ACTIVATIONS

COVARIANCE_SOURCES = ("bootstrap", "sandwich", "variational")
NEURON_SOURCES = ("own", "pipeline")


@dataclass(frozen=True)
class NeuronsBootstrapParams(Section):
    section: ClassVar[str] = "neurons.bootstrap"

    source: str = key(
        "own",
        one_of(*NEURON_SOURCES),
        "own: train a one-hidden-layer net on `dataset`; pipeline: the layer `layer` of data/weights.zarr",
    )
    layer: str = key("hidden3", text, "source pipeline: the dense layer whose neurons are analysed")
    dataset: str = key(
        "iris",
        one_of(*NEURON_DATASETS),
        "source own: scikit-learn table (classification) or gait (synthetic 50 Hz series, forecasting)",
    )
    window: int = key(100, integer(1, 10_000), "gait: inputs per window, s_t..s_{t+window-1}")
    horizon: int = key(1, integer(1, 1000), "gait: forecast targets per window, s_{t+window}..; MSE over all")
    series_length: int = key(3000, integer(10, 10_000_000), "gait: samples of the signal (50 Hz)")
    test_fraction: float = key(
        0.3, number(0.0, 0.9, open_low=True), "stratified test share (accuracy is measured on it)"
    )
    split_seed: int = key(0, integer(0), "seed of the split")
    hidden: int = key(32, integer(1, 4096), "neurons of the hidden layer")
    activation: str = key("tanh", one_of(*ACTIVATIONS), "hidden nonlinearity (odd ones align with sign flips)")
    epochs: int = key(1000, integer(1), "full-batch Adam steps per network")
    learning_rate: float = key(1.0e-2, number(0.0, 10.0, open_low=True), "Adam learning rate")
    seed: int = key(0, integer(0), "seed of the reference, the resamples and the replicas")
    replicas: int = key(30, integer(2, 10_000), "bootstrap replicas B")
    init: str = key(
        "same", one_of("same", "independent"), "replicas start from the reference's initial weights or their own"
    )
    align: str = key(
        "activations",
        one_of("activations", "weights"),
        "match replica neurons to the reference by |activation correlation| or weight cosine",
    )
    scheduler: str = key(
        "local", scheduler, "Dask scheduler of the replicas: local process cluster, threads, synchronous or an address"
    )
    workers: int = key(2, integer(1, 256), "Dask workers of the local cluster (one thread each)")


@dataclass(frozen=True)
class NeuronGaussiansParams(Section):
    section: ClassVar[str] = "neurons.gaussians"

    covariance: str = key(
        "bootstrap",
        one_of(*COVARIANCE_SOURCES),
        "neuron covariances from the aligned replicas or the sandwich H^-1 G H^-1 / N",
    )
    ridge: float = key(
        1.0e-3, number(0.0), "bootstrap: ridge x the layer's mean per-coordinate variance added to every covariance"
    )
    damping: float = key(1.0e-4, number(0.0), "sandwich: added to each Hessian block before inversion")
    rank: int = key(2, integer(1, 10_000), "variational: rank k of each neuron's factor A, S = A A^T + diag(d^2)")
    prior_scale: float = key(
        1.0, number(0.0, open_low=True), "variational: prior N(reference neuron, prior_scale^2 I) per neuron"
    )
    steps: int = key(1000, integer(1), "variational: Adam steps on the negative ELBO (full batch)")
    samples: int = key(8, integer(1, 10_000), "variational: reparameterised weight samples per step")
    learning_rate: float = key(2.0e-2, number(0.0, 10.0, open_low=True), "variational: Adam learning rate")
    seed: int = key(0, integer(0), "variational: seed of the factors' start and of the samples")


@dataclass(frozen=True)
class NeuronsCompressParams(Section):
    section: ClassVar[str] = "neurons.compress"

    k_max: int = key(0, integer(0), "k = 1..k_max clusters (0: up to the number of neurons)")
    restarts: int = key(5, integer(1, 1000), "k-means runs per (metric, k), seeds seed + r, paired across metrics")
    seed: int = key(0, integer(0), "seed of the k-means restarts (restart r uses seed + r)")
    metrics: list[str] = key(
        ["euclidean", "w2"],
        list_of(one_of(*METRICS), unique=True),
        "neuron distances: squared Euclidean of means, squared 2-Wasserstein",
    )
    mse_threshold: float = key(
        0.05, number(0.0, open_low=True), "gait: report the fewest parameters whose mean test MSE is at most this"
    )
