"""Zarr v3 arrays with named dims, cut into epoch slabs and sample chunks (shared by the weight and layer stores)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

# Every chunk carries a CRC-32C of its compressed bytes: zstd without its own checksum can
# decode a damaged chunk into wrong numbers silently; with it, any flipped byte is a read error
# (a StoreError naming the store). Costs ~4 bytes a chunk and well under the zstd time.
COMPRESSORS = (ZstdCodec(level=0), Crc32cCodec())


def write_array(group: zarr.Group, name: str, data: np.ndarray, dims: tuple[str, ...]) -> zarr.Array:
    array = group.create_array(name, shape=data.shape, dtype=data.dtype, dimension_names=dims, compressors=COMPRESSORS)
    array[...] = data
    return array


def _epoch_slabs(n_epochs: int, epochs_per_shard: int) -> Iterator[slice]:
    for start in range(0, n_epochs, epochs_per_shard):
        yield slice(start, min(start + epochs_per_shard, n_epochs))


def sample_chunks(n_samples: int, samples_per_chunk: int) -> list[slice]:
    """Consecutive sample ranges of at most ``samples_per_chunk`` rows covering 0..n_samples."""
    return list(_epoch_slabs(n_samples, max(1, samples_per_chunk)))
