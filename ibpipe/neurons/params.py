"""The neuron parameter-space experiment's names and its params sections, one sub-section per stage.

``neurons.bootstrap`` (stage bootstrap), ``neurons.gaussians`` (stage neuron-gaussians) and
``neurons.compress`` (stage compress). Datasets by task, and the neuron distances k-means can
cluster under, are declared here too: the sections allow exactly these names.
"""

from __future__ import annotations

from typing import ClassVar

from ibpipe.nn.activations import ACTIVATIONS
from ibpipe.schema import Scheduler, Section, Settings, one_of, setting

CLASSIFICATION_DATASETS = ("iris", "wine", "digits", "mnist")
SERIES_DATASETS = ("gait",)
NEURON_DATASETS = CLASSIFICATION_DATASETS + SERIES_DATASETS

# Squared Euclidean distance of the means; squared 2-Wasserstein distance of the Gaussians.
METRICS = ("euclidean", "w2")
COVARIANCE_SOURCES = ("bootstrap", "sandwich", "variational", "teacher")
NEURON_SOURCES = ("own", "pipeline")
# Which layer's neurons (incoming weights + bias) are the neuron set: the hidden units, or the read-out units.
NEURON_LAYERS = ("hidden", "output")
PROJECTIONS = ("pca", "random")
ARCHITECTURES = ("feedforward", "recurrent")
STUDENTS = ("laplace", "variational")


class NetTraining(Settings):
    """How a one-hidden-layer net of the experiment is trained (``ibpipe.neurons.replicas.train_net``)."""

    hidden: int = setting(32, "neurons of the hidden layer", ge=1, le=4096)
    activation: one_of(ACTIVATIONS) = setting("tanh", "hidden nonlinearity (odd ones align with sign flips)")
    epochs: int = setting(1000, "full-batch Adam steps per network", ge=1)
    learning_rate: float = setting(1.0e-2, "Adam learning rate", gt=0.0, le=10.0)
    seed: int = setting(0, "seed of the reference, the resamples and the replicas", ge=0)


class NeuronsBootstrapParams(Section, NetTraining):
    section: ClassVar[str] = "neurons.bootstrap"

    source: one_of(NEURON_SOURCES) = setting(
        "own", "own: train a one-hidden-layer net on `dataset`; pipeline: the layer `layer` of data/weights.zarr"
    )
    layer: str = setting("hidden3", "source pipeline: the dense layer whose neurons are analysed")
    dataset: one_of(NEURON_DATASETS) = setting(
        "iris",
        "source own: scikit-learn table, mnist (IDX files in `root`; classification) or gait (synthetic 50 Hz "
        "series, forecasting)",
    )
    architecture: one_of(ARCHITECTURES) = setting(
        "feedforward",
        "source own: feedforward (one hidden layer) or recurrent (h_t = s(W h_t-1 + V x_t + b) over a gait window, "
        "a neuron = its rows of W and V and its bias; covariance bootstrap)",
    )
    neuron_layer: one_of(NEURON_LAYERS) = setting(
        "hidden",
        "source own: the neuron set is the hidden units or the output (read-out) units, each neuron its "
        "incoming weights then bias",
    )
    dim: int = setting(
        0,
        "source own: inputs projected to `dim` dimensions before training, so a hidden neuron has dim + 1 "
        "parameters (0: the data's own dimension)",
        ge=0,
        le=100_000,
    )
    projection: one_of(PROJECTIONS) = setting(
        "pca",
        "dim > 0: pca (principal axes of the training inputs) or random (Gaussian seeded by split_seed, "
        "Johnson-Lindenstrauss)",
    )
    root: str = setting("auto", "mnist: folder of the four IDX files (auto: data/mnist); nothing is downloaded")
    max_rows: int = setting(
        0, "at most this many training and this many test rows, a seeded subset (0: all)", ge=0, le=10_000_000
    )
    window: int = setting(100, "gait: inputs per window, s_t..s_{t+window-1}", unit="samples", ge=1, le=10_000)
    horizon: int = setting(
        1, "gait: forecast targets per window, s_{t+window}..; MSE over all", unit="samples", ge=1, le=1000
    )
    series_length: int = setting(3000, "gait: samples of the signal (50 Hz)", unit="samples", ge=10, le=10_000_000)
    test_fraction: float = setting(0.3, "stratified test share (accuracy is measured on it)", gt=0.0, le=0.9)
    split_seed: int = setting(0, "seed of the split", ge=0)
    replicas: int = setting(30, "bootstrap replicas B", ge=2, le=10_000)
    init: one_of(("same", "independent")) = setting(
        "same", "replicas start from the reference's initial weights or their own"
    )
    align: one_of(("activations", "weights")) = setting(
        "activations", "match replica neurons to the reference by |activation correlation| or weight cosine"
    )
    scheduler: Scheduler = setting(
        "local", "Dask scheduler of the replicas: local process cluster, threads, synchronous or an address"
    )
    workers: int = setting(2, "Dask workers of the local cluster (one thread each)", ge=1, le=256)


class NeuronGaussiansParams(Section):
    section: ClassVar[str] = "neurons.gaussians"

    covariance: one_of(COVARIANCE_SOURCES) = setting(
        "bootstrap",
        "neuron covariances: aligned replicas, the sandwich H^-1 G H^-1 / N, a variational posterior, or "
        "teacher (Algorithm 1: a Bayesian student trained on labels sampled from the reference net's posterior)",
    )
    ridge: float = setting(
        1.0e-3, "bootstrap: ridge x the layer's mean per-coordinate variance added to every covariance", ge=0.0
    )
    damping: float = setting(1.0e-4, "sandwich: added to each Hessian block before inversion", ge=0.0)
    rank: int = setting(2, "variational: rank k of each neuron's factor A, S = A A^T + diag(d^2)", ge=1, le=10_000)
    prior_scale: float = setting(
        1.0, "variational and teacher: prior N(reference neuron, prior_scale^2 I) per neuron", gt=0.0
    )
    steps: int = setting(1000, "variational: Adam steps on the negative ELBO (full batch)", ge=1)
    samples: int = setting(8, "variational: reparameterised weight samples per step", ge=1, le=10_000)
    learning_rate: float = setting(2.0e-2, "variational: Adam learning rate", gt=0.0, le=10.0)
    seed: int = setting(0, "variational and teacher: seed of the factors' start, of the samples, of the labels", ge=0)
    student: one_of(STUDENTS) = setting(
        "laplace", "teacher: the student's posterior, Laplace (MAP + inverse Hessian) or variational (as above)"
    )
    draws: int = setting(1, "teacher: labels sampled per training input from the teacher's p(y | x)", ge=1, le=1000)


class NeuronsCompressParams(Section):
    section: ClassVar[str] = "neurons.compress"

    k_max: int = setting(0, "k = 1..k_max clusters (0: up to the number of neurons)", ge=0)
    restarts: int = setting(5, "k-means runs per (metric, k), seeds seed + r, paired across metrics", ge=1, le=1000)
    seed: int = setting(0, "seed of the k-means restarts (restart r uses seed + r)", ge=0)
    metrics: list[one_of(METRICS)] = setting(
        ["euclidean", "w2"],
        "neuron distances: squared Euclidean of means, squared 2-Wasserstein",
        unique=True,
        min_length=1,
    )
    mse_threshold: float = setting(
        0.05, "gait: report the fewest parameters whose mean test MSE is at most this", gt=0.0
    )
