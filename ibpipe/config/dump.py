"""The ``dump`` section: how activations are laid out in their Zarr store."""

from __future__ import annotations

from typing import ClassVar

from ibpipe.schema import Section, setting


class DumpParams(Section):
    section: ClassVar[str] = "dump"

    epochs_per_shard: int = setting(16, "epochs stored together in one Zarr shard", ge=1, le=4096)
    torch_threads: int = setting(1, "torch intra-op threads of the forward passes", ge=1, le=256)
    samples_per_chunk: int = setting(
        10000,
        "samples per shard; memory ~ epochs_per_shard x samples_per_chunk x units x 4 bytes",
        unit="rows",
        ge=1,
    )
    noise_draws: int = setting(
        16,
        "noisy networks (model.noise_std > 0): noisy forward passes per input whose noiseless layer outputs are "
        "stored for the sample-propagation estimator",
        ge=1,
        le=4096,
    )
