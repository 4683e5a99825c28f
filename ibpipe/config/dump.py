"""The ``dump`` section: how activations are laid out in their Zarr store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key


@dataclass(frozen=True)
class DumpParams(Section):
    section: ClassVar[str] = "dump"

    epochs_per_shard: int = key(16, integer(1, 4096), "epochs stored together in one Zarr shard")
    torch_threads: int = key(1, integer(1, 256), "torch intra-op threads of the forward passes")
    samples_per_chunk: int = key(
        10000, integer(1), "samples per shard; memory ~ epochs_per_shard x samples_per_chunk x units x 4 bytes"
    )
    noise_draws: int = key(
        16,
        integer(1, 4096),
        "noisy networks (model.noise_std > 0): noisy forward passes per input whose noiseless layer outputs are "
        "stored for the sample-propagation estimator",
    )
