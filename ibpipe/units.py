"""Information units: estimators compute in nats and convert once, at the end (as NPEET's ``base``).

Every estimator takes ``base`` (default 2: bits; ``math.e``: nats) and passes its nats through
``from_nats``; the plug-in estimators, which combine their entropies in bits, pass those through
``from_bits``. Nothing else in the estimators defines ln 2.
"""

from __future__ import annotations

import math

LN2 = math.log(2.0)
BITS = 2.0


def from_nats(value: float, base: float = BITS) -> float:
    """``value`` nats in units of log ``base`` (2: bits, e: nats)."""
    if not base > 1:
        raise ValueError(f"base must be > 1 (2 = bits, e = nats), got {base}")
    return float(value) / math.log(base)


def from_bits(value: float, base: float = BITS) -> float:
    """``value`` bits in units of log ``base``: bits to nats (times ln 2), then ``from_nats``."""
    return from_nats(value * LN2, base)
