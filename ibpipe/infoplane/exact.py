"""Exact codes of a quantized layer: its quantization grid relabelled as integers, no binning.

A network trained with ``model.quantize`` (``ibpipe.nn.quantize``) puts every value of a layer on
a grid of at most 2**b levels per call. Over one epoch's values of a layer (all samples, all
units) with smallest value ``low`` and largest ``high``,

    code(v) = round((v - low) 2**b / (high - low))

takes 2**b + 1 possible values and is injective on the grid: the grid spans at most 2**b - 1
steps of (high - low), so neighbouring grid values are more than one code apart. The
partition of the samples, and with it H(T), I(X;T) and I(T;Y), is then exactly that of the
layer's distinct rows (Lorenzen, Igel & Nielsen, ICLR 2022). A layer with more distinct values
than 2**b is not on such a grid (not quantized, or with more bits) and is refused.
"""

from __future__ import annotations

import numpy as np

from ibpipe.errors import InputError


def epoch_value_range(chunks) -> tuple[float, float]:
    """Smallest and largest value over the chunks (arrays) of one epoch of one layer."""
    low, high = np.inf, -np.inf
    for chunk in chunks:
        finite = np.asarray(chunk)[np.isfinite(chunk)]  # NaN and inf get their own code, not a range
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return low, high


def exact_grid_codes(values: np.ndarray, bits: int, value_range: tuple[float, float]) -> np.ndarray:
    """int32 codes round((v - low) 2**bits / (high - low)) of a quantized layer's values (one epoch).

    ``value_range`` is (low, high) of the whole epoch of the layer (``epoch_value_range``), so
    chunks of samples coded separately share one labelling. A constant layer codes to 0.
    Raises InputError when ``values`` hold more than 2**bits distinct values.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    distinct = np.unique(values[finite]).size
    if distinct > 2**bits:
        raise InputError(
            f"reduce.method exact: a layer takes {distinct} distinct values, more than 2^{bits} = {2**bits}; "
            "exact codes need a quantized network (model.quantize.bits <= reduce.bits)"
        )
    low, high = value_range
    codes = np.zeros(values.shape, dtype=np.int32)
    if high > low:
        codes[finite] = np.rint((values[finite] - low) * (2**bits / (high - low)))
    # The NaN/inf policy of every coding: a reserved code one past the largest.
    codes[~finite] = 2**bits + 1
    return codes
