"""Information units: estimators compute in nats and convert once, at the end (as NPEET's ``base``).

Every estimator takes ``base`` (default 2: bits; ``math.e``: nats) and passes its nats through
``from_nats``; nothing else in the estimators defines ln 2.
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


def to_nats(value: float, base: float = BITS) -> float:
    """``value`` in units of log ``base`` back to nats."""
    return value * math.log(base)


def bits(value_nats: float) -> float:
    """``value_nats`` in bits."""
    return value_nats / LN2
