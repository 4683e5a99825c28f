"""The ``ae`` section: the autoencoder entropy curves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ibpipe.config.checks import Section, integer, is_number, key, list_of, number, one_of, scheduler, text
from ibpipe.data.datasets import DATASETS
from ibpipe.data.manifolds import MANIFOLDS
from ibpipe.dimension.loo_kde import BANDWIDTH_RULES
from ibpipe.nn.activations import ACTIVATIONS

AE_SOURCES = (*DATASETS, *MANIFOLDS, "layer")


@dataclass(frozen=True)
class AeParams(Section):
    section: ClassVar[str] = "ae"

    source: str = key(
        "digits",
        one_of(*AE_SOURCES),
        "points of the autoencoder curve: a dataset's inputs, a synthetic manifold, or a recorded layer",
    )
    n_samples: int = key(
        2000, integer(3), "synthetic: points drawn; datasets and layers: at most this many rows (seeded subset)"
    )
    ambient_dim: int = key(20, integer(1, 100_000), "synthetic: dimension D of the space the manifold is embedded in")
    intrinsic_dim: int = key(5, integer(1, 1000), "synthetic linear / sphere: the true dimension k")
    noise: float = key(0.01, number(0.0), "synthetic: standard deviation of the Gaussian noise in R^D")
    layer: str = key("", text, "source layer: the recorded layer (from data/activations.zarr)")
    epoch: int = key(-1, integer(-1), "source layer: the measured epoch (-1: the last)")
    dmax: int = key(8, integer(1, 256), "code sizes d = 1..dmax")
    widths: list[int] = key(
        [64, 32], list_of(integer(1, 4096)), "hidden widths of the encoder (the decoder mirrors them)"
    )
    activation: str = key("elu", one_of(*ACTIVATIONS), "autoencoder nonlinearity")
    learning_rate: float = key(1.0e-3, number(0.0, 10.0, open_low=True), "Adam learning rate")
    batch_size: int = key(128, integer(1), "minibatch size")
    max_epochs: int = key(2000, integer(1), "epochs at most per autoencoder")
    patience: int = key(200, integer(1), "early stopping: epochs without a better validation MSE (plateaus are long)")
    val_fraction: float = key(
        0.2, number(0.0, 0.9, open_low=True), "held-out share for early stopping and the reported MSE"
    )
    seed: int = key(0, integer(0), "seed of the data, the split and every autoencoder (d is added)")
    restarts: int = key(
        3, integer(1, 100), "autoencoders per code size (restart r adds 1000 r to the seed); bends use the best MSE"
    )
    bandwidth: Any = key(
        "loo-ml",
        lambda v: (
            None
            if v in BANDWIDTH_RULES or (is_number(v) and v > 0)
            else "one of " + ", ".join(map(repr, BANDWIDTH_RULES)) + " or a number > 0"
        ),
        "KDE bandwidth of the code entropies",
    )
    noise_factor: float = key(
        0.1, number(0.0, open_low=True), "I_noise: noise variance = noise_factor x mean code variance"
    )
    corr_q_low: float = key(
        0.001,
        number(0.0, 1.0, open_low=True),
        "correlation dimension: lower pair-distance quantile of the scaling range",
    )
    corr_q_high: float = key(
        0.05, number(0.0, 1.0, open_low=True), "correlation dimension: upper pair-distance quantile"
    )
    max_pairs: int = key(500_000, integer(100), "correlation dimension: pairs used at most (a seeded subset above)")
    scheduler: str = key(
        "local",
        scheduler,
        "Dask scheduler of the autoencoders: local process cluster, threads, synchronous or an address",
    )
    workers: int = key(2, integer(1, 256), "Dask workers of the local cluster (one thread each)")

    def errors(self) -> list[str]:
        errors = []
        if self.corr_q_low >= self.corr_q_high:
            errors.append(
                f"ae.corr_q_low = {self.corr_q_low} and ae.corr_q_high = {self.corr_q_high}: "
                "the low quantile must be below the high one"
            )
        # the manifold's own dimensions must fit in R^D: k for linear, k + 1 for the k-sphere
        needed = {"linear": self.intrinsic_dim, "sphere": self.intrinsic_dim + 1}.get(self.source, 0)
        if needed > self.ambient_dim:
            errors.append(
                f"ae.intrinsic_dim = {self.intrinsic_dim} and ae.ambient_dim = {self.ambient_dim}: the {self.source} "
                f"manifold needs {needed} dimensions; raise ae.ambient_dim or lower ae.intrinsic_dim"
            )
        if self.source == "layer" and not self.layer:
            errors.append("ae.source = 'layer' needs ae.layer, the recorded layer to read (e.g. hidden3)")
        return errors
