"""The settings of the autoencoder entropy curves, each declared once, and the ``ae`` params section built on them.

``AutoencoderSettings`` is what ``train_autoencoder`` reads, ``CodeMeasureSettings`` what
``code_measures`` reads; ``AeParams`` (params.yaml ``ae``) is both, plus where the points come
from and how the Dask run is laid out, so a stage passes the validated section as it is.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ibpipe.data.datasets import DATASETS
from ibpipe.data.manifolds import MANIFOLDS
from ibpipe.dimension.loo_kde import BANDWIDTH_RULES
from ibpipe.nn.activations import ACTIVATIONS
from ibpipe.schema import Scheduler, Section, Settings, one_of, setting

# A user's own data (arrays, custom) is not a source: the ae stages do not depend on its files.
AE_SOURCES = (*(name for name, info in DATASETS.items() if not info.own), *MANIFOLDS, "layer")


class Seeded(Settings):
    seed: int = setting(0, "seed of the data, the split and every autoencoder (d is added)", ge=0)


class AutoencoderSettings(Seeded):
    """How one autoencoder is trained (``ibpipe.ae_entropy.autoencoder.train_autoencoder``)."""

    widths: list[Annotated[int, Field(ge=1, le=4096)]] = setting(
        [64, 32], "hidden widths of the encoder (the decoder mirrors them)", unit="units", min_length=1
    )
    activation: one_of(ACTIVATIONS) = setting("elu", "autoencoder nonlinearity")
    learning_rate: float = setting(2.0e-3, "Adam learning rate", gt=0.0, le=10.0)
    batch_size: int = setting(256, "minibatch size", unit="rows", ge=1)
    max_epochs: int = setting(2000, "epochs at most per autoencoder", ge=1)
    patience: int = setting(
        200, "early stopping: epochs without a better validation MSE (plateaus are long)", unit="epochs", ge=1
    )
    val_fraction: float = setting(0.2, "held-out share for early stopping and the reported MSE", gt=0.0, le=0.9)


class CodeMeasureSettings(Seeded):
    """How the codes of one autoencoder are measured (``ibpipe.ae_entropy.curves.code_measures``)."""

    bandwidth: one_of(BANDWIDTH_RULES) | Annotated[float, Field(gt=0.0)] = setting(
        "loo-ml", "KDE bandwidth of the code entropies"
    )
    noise_factor: float = setting(
        0.1, "I_noise: noise variance = noise_factor x mean code variance", unit="x mean code variance", gt=0.0
    )
    corr_q_low: float = setting(
        0.001, "correlation dimension: lower pair-distance quantile of the scaling range", gt=0.0, le=1.0
    )
    corr_q_high: float = setting(0.05, "correlation dimension: upper pair-distance quantile", gt=0.0, le=1.0)
    max_pairs: int = setting(500_000, "correlation dimension: pairs used at most (a seeded subset above)", ge=100)


class AeParams(Section, AutoencoderSettings, CodeMeasureSettings):
    section: ClassVar[str] = "ae"

    source: one_of(AE_SOURCES) = setting(
        "digits", "points of the autoencoder curve: a dataset's inputs, a synthetic manifold, or a recorded layer"
    )
    n_samples: int = setting(
        2000, "synthetic: points drawn; datasets and layers: at most this many rows (seeded subset)", ge=3
    )
    ambient_dim: int = setting(20, "synthetic: dimension D of the space the manifold is embedded in", ge=1, le=100_000)
    intrinsic_dim: int = setting(5, "synthetic linear / sphere: the true dimension k", ge=1, le=1000)
    noise: float = setting(0.01, "synthetic: standard deviation of the Gaussian noise in R^D", ge=0.0)
    layer: str = setting("", "source layer: the recorded layer (from data/activations.zarr)")
    epoch: int = setting(-1, "source layer: the measured epoch (-1: the last)", ge=-1)
    dmax: int = setting(8, "code sizes d = 1..dmax", ge=1, le=256)
    restarts: int = setting(
        3, "autoencoders per code size (restart r adds 1000 r to the seed); bends use the best MSE", ge=1, le=100
    )
    scheduler: Scheduler = setting(
        "local", "Dask scheduler of the autoencoders: local process cluster, threads, synchronous or an address"
    )
    workers: int = setting(2, "Dask workers of the local cluster (one thread each)", ge=1, le=256)

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
