"""Information units: estimators compute in nats and convert once, at the end (as NPEET's ``base``)."""

from __future__ import annotations

import math

LN2 = math.log(2.0)


def from_nats(value: float, base: float = 2.0) -> float:
    """``value`` nats in units of log ``base`` (2: bits, e: nats)."""
    return value / math.log(base)


def bits(value_nats: float) -> float:
    """``value_nats`` in bits."""
    return value_nats / LN2
