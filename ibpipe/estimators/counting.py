"""One-pass state ids of binned rows: bin, hash and count every row of a layer in a single sweep.

The plug-in and Miller-Madow estimators only need, for each sample, which distinct binned
row (state) it falls in. ``count_states`` computes that in one compiled pass (numba) over
the activations: each value is binned on the fly (Saxe's fixed size ``floor(t / size)``,
Tishby's fixed width, or integer codes taken as they are), the row's codes are hashed to
64 bits, and the hash is looked up in an open-addressing table (linear probing). Collisions
are exact: a table hit only counts when the full rows agree, code by code (the stored
representative row is re-binned for the comparison), so two different rows never share a
state whatever the hash does. Memory: the table (3 int64 per slot, 2N slots) and one row.

Ids are numbered in order of first appearance. The pure-numpy fallback (used when numba is
not installed, or on non-finite input) bins with ``ibpipe.estimators.binning``, finds the
states with ``ibpipe.estimators.rowkeys.row_ids`` and renumbers them the same way, so both
paths return the same ids, hence bit-identical entropies.

Binning matches ``ibpipe.estimators.binning`` exactly: fixed size divides in the dtype of
the values (float32 stays float32, as numpy does with a Python float), fixed width works in
float64 with the same edge corrections.

References: R. Shwartz-Ziv & N. Tishby, arXiv:1703.00810 (2017) (fixed-width bins);
A. M. Saxe et al., ICLR (2018) (fixed-size bins); D. E. Knuth, The Art of Computer
Programming vol. 3, section 6.4 (open addressing with linear probing).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ibpipe.errors import InputError
from ibpipe.estimators.binning import check_n_bins, fixed_size_codes, fixed_width_codes
from ibpipe.estimators.compiled import cached_njit
from ibpipe.estimators.rowkeys import row_ids

try:  # numba is a dependency; the fallback keeps ibpipe usable (and testable) without it
    import numba
except ImportError:  # pragma: no cover - exercised by forcing use_numba=False
    numba = None

HAVE_NUMBA = numba is not None


# Binning modes of the compiled kernel.
_INTEGER, _FIXED_SIZE, _FIXED_WIDTH = 0, 1, 2


class States(NamedTuple):
    """``ids`` (n_rows,) int64 in 0..n_states-1, numbered by first appearance; ``n_states`` distinct rows."""

    ids: np.ndarray
    n_states: int


def _first_appearance(ids: np.ndarray, n_ids: int) -> States:
    """Renumber ids 0..n_ids-1 (some maybe unused) so states are numbered in order of first appearance."""
    if len(ids) == 0:
        return States(np.zeros(0, dtype=np.int64), 0)
    first = np.full(n_ids, len(ids), dtype=np.int64)
    np.minimum.at(first, ids, np.arange(len(ids), dtype=np.int64))
    used = np.flatnonzero(first < len(ids))
    rank = np.empty(n_ids, dtype=np.int64)
    rank[used[np.argsort(first[used], kind="stable")]] = np.arange(len(used))
    return States(rank[ids], len(used))


def _numpy_states(values: np.ndarray, mode: int, bin_size: float, n_bins: int, value_range) -> States:
    if mode == _FIXED_SIZE:
        values = fixed_size_codes(values, bin_size)
    elif mode == _FIXED_WIDTH:
        values = fixed_width_codes(values, n_bins, value_range)
    return _first_appearance(*row_ids(values))


if HAVE_NUMBA:

    @cached_njit(inline="always")
    def _code(value, mode, bin_size, low, scale, edges):
        if mode == _FIXED_SIZE:
            return np.int64(np.floor(value / bin_size))
        if mode == _FIXED_WIDTH:
            n_bins = edges.shape[0]
            scaled = (np.float64(value) - low) * scale
            scaled = min(max(scaled, -1.0), n_bins - 1.0)
            code = np.int64(np.floor(scaled)) + 1
            wide = np.float64(value)
            # The edge corrections of fixed_width_codes, branch-free.
            code += np.int64(code < n_bins) * np.int64(wide >= edges[min(code, n_bins - 1)])
            code -= np.int64(code > 0) * np.int64(wide < edges[max(code - 1, 0)])
            return code
        return np.int64(value)

    @cached_njit(inline="always")
    def _mix(key):
        key ^= key >> np.uint64(30)
        key *= np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(27)
        key *= np.uint64(0x94D049BB133111EB)
        key ^= key >> np.uint64(31)
        return key

    @cached_njit()
    def _row_keys(values, mode, bin_size, low, scale, edges, weights):
        """The hash key of every row, and whether every value was finite.

        The mode is tested once, outside the loops: one tight loop per mode (a mode test inside
        the row loop made the whole pass several times slower)."""
        n_rows, n_columns = values.shape
        keys = np.empty(n_rows, dtype=np.uint64)
        finite = True
        if mode == _FIXED_SIZE:
            for row in range(n_rows):
                key = np.uint64(0)
                for column in range(n_columns):
                    value = values[row, column]
                    finite &= np.isfinite(value)
                    key += np.uint64(np.int64(np.floor(value / bin_size))) * weights[column]
                keys[row] = _mix(key)
        elif mode == _FIXED_WIDTH:
            for row in range(n_rows):
                key = np.uint64(0)
                for column in range(n_columns):
                    value = values[row, column]
                    finite &= np.isfinite(value)
                    key += np.uint64(_code(value, mode, bin_size, low, scale, edges)) * weights[column]
                keys[row] = _mix(key)
        else:
            for row in range(n_rows):
                key = np.uint64(0)
                for column in range(n_columns):
                    key += np.uint64(np.int64(values[row, column])) * weights[column]
                keys[row] = _mix(key)
        return keys, finite

    @cached_njit()
    def _rows_equal(values, row, other, mode, bin_size, low, scale, edges):
        for column in range(values.shape[1]):
            here = _code(values[row, column], mode, bin_size, low, scale, edges)
            if here != _code(values[other, column], mode, bin_size, low, scale, edges):
                return False
        return True

    @cached_njit()
    def _count_kernel(values, mode, bin_size, low, scale, edges, weights):
        """Returns (ids, n_states), or (ids, -1) when a value is not finite (the caller falls back).

        The row key is a multilinear hash sum_c code_c * w_c (mod 2**64, odd random w_c) put
        through the splitmix64 finaliser: the sum has no dependency chain, so the compiler
        vectorises binning and hashing together; its quality only affects speed, since hits
        are confirmed by comparing the full rows.
        """
        n_rows = values.shape[0]
        ids = np.empty(n_rows, dtype=np.int64)
        keys, finite = _row_keys(values, mode, bin_size, low, scale, edges, weights)
        if not finite:
            return ids, -1
        capacity = 1
        while capacity < 2 * n_rows:
            capacity *= 2
        mask = capacity - 1
        table = np.full(capacity, -1, dtype=np.int64)  # slot -> state
        state_hash = np.empty(n_rows, dtype=np.uint64)
        state_row = np.empty(n_rows, dtype=np.int64)  # a row of each state, re-binned to compare
        n_states = 0
        for row in range(n_rows):
            key = keys[row]
            slot = np.int64(key & np.uint64(mask))
            while True:
                state = table[slot]
                if state < 0:
                    table[slot] = n_states
                    state_hash[n_states] = key
                    state_row[n_states] = row
                    ids[row] = n_states
                    n_states += 1
                    break
                if state_hash[state] == key and _rows_equal(
                    values, row, state_row[state], mode, bin_size, low, scale, edges
                ):
                    ids[row] = state
                    break
                slot = (slot + 1) & mask
        return ids, n_states

    @cached_njit()
    def _layers_kernel(layers, labels, n_labels, mode, bin_size, low, scale, edges, weights):
        """Per layer of the tuple ``layers`` (same rows, same dtype): states m, sum c ln c over the states'
        counts, joint (state, label) states and their sum c ln c, in one call for all layers.
        ``m`` is -1 for a layer holding a non-finite value (the caller falls back)."""
        n_layers = len(layers)
        n_rows = labels.shape[0]
        states = np.zeros(n_layers, dtype=np.int64)
        joint_states = np.zeros(n_layers, dtype=np.int64)
        sums = np.zeros(n_layers)
        joint_sums = np.zeros(n_layers)
        for layer in range(n_layers):
            block = layers[layer]
            ids, n_states = _count_kernel(block, mode, bin_size, low, scale, edges, weights)
            states[layer] = n_states
            if n_states < 0:
                continue
            counts = np.zeros(n_states, dtype=np.int64)
            joint = np.zeros(n_states * n_labels, dtype=np.int64)
            for row in range(n_rows):
                counts[ids[row]] += 1
                joint[ids[row] * n_labels + labels[row]] += 1
            for count in counts:
                sums[layer] += count * np.log(count)
            for count in joint:
                if count > 0:
                    joint_states[layer] += 1
                    joint_sums[layer] += count * np.log(count)
        return states, sums, joint_states, joint_sums


def _normalised(values: np.ndarray, mode: int) -> np.ndarray:
    """C-contiguous 2-D float32/float64 (binned modes) or int64 (codes), so one compiled variant per dtype."""
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"need a 2-D array (n_rows, n_units), got shape {values.shape}")
    if mode == _INTEGER:
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"codes must be integers without a binning option, got {values.dtype}")
        return np.ascontiguousarray(values, dtype=np.int64)
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(values, dtype=dtype)


def _check_code_range(values: np.ndarray, bin_size: float) -> None:
    """An ``InputError`` when a finite value over ``bin_size`` falls outside int32 (the codes would wrap silently)."""
    if values.size == 0:
        return
    limits = np.iinfo(np.int32)
    low, high = float(values.min()), float(values.max())
    if np.isfinite(low) and np.isfinite(high) and limits.min <= low / bin_size and high / bin_size < limits.max:
        return  # the common case: two passes, no copy
    finite = values[np.isfinite(values)]
    largest = float(np.abs(finite).max()) if finite.size else 0.0
    if largest / bin_size >= limits.max:
        raise InputError(
            f"values up to {largest:.3g} over bin_size {bin_size} overflow int32 codes; "
            "raise bin_size (reduce.bin_size) or use fixed-width bins (n_bins)"
        )


def count_states(
    values: np.ndarray,
    *,
    bin_size: float | None = None,
    n_bins: int | None = None,
    value_range: tuple[float, float] | None = None,
    use_numba: bool | None = None,
) -> States:
    """State ids of the binned rows of ``values`` (n_rows, n_units), numbered by first appearance.

    ``bin_size``: Saxe's bins floor(t / bin_size); ``n_bins`` with ``value_range``: Tishby's
    bins (codes 0..n_bins, see ``ibpipe.estimators.binning.fixed_width_codes``); neither: the
    values are integer codes already. ``use_numba``: None uses the compiled kernel when numba
    is installed; False forces the pure-numpy path (same ids).
    """
    if bin_size is not None and n_bins is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    mode = _FIXED_SIZE if bin_size is not None else _FIXED_WIDTH if n_bins is not None else _INTEGER
    if mode == _FIXED_SIZE and not bin_size > 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    low, high = value_range if value_range is not None else (-1.0, 1.0)
    if mode == _FIXED_WIDTH and not low < high:
        raise ValueError(f"value_range must have low < high, got {value_range}")
    if mode == _FIXED_WIDTH:
        check_n_bins(n_bins)
    values = _normalised(values, mode)
    if mode == _FIXED_SIZE:
        _check_code_range(values, bin_size)
    if values.size == 0 or not (HAVE_NUMBA if use_numba is None else use_numba):
        return _numpy_states(values, mode, bin_size, n_bins, (low, high))
    if not HAVE_NUMBA:
        raise RuntimeError("use_numba=True but numba is not installed")
    edges = np.linspace(low, high, n_bins) if mode == _FIXED_WIDTH else np.zeros(1)
    scale = (n_bins - 1) / (high - low) if mode == _FIXED_WIDTH else 1.0
    # Divide in the values' own dtype, as numpy does for an array divided by a Python float.
    size = values.dtype.type(bin_size if mode == _FIXED_SIZE else 1.0)
    weights = _weights(values.shape[1])
    ids, n_states = _count_kernel(values, mode, size, float(low), float(scale), edges, weights)
    if n_states < 0:  # non-finite values: let the numpy path apply the binning module's policy
        return _numpy_states(values, mode, bin_size, n_bins, (low, high))
    return States(ids, int(n_states))


class LayerCounts(NamedTuple):
    """Per layer: distinct binned rows ``n_states`` and sum c ln c of their counts (``sum_clogc``), the
    same for the (state, label) pairs; ``n_rows`` rows. -1 states: a non-finite value in that layer."""

    n_rows: int
    n_states: np.ndarray
    sum_clogc: np.ndarray
    n_joint: np.ndarray
    joint_sum_clogc: np.ndarray


def count_layers(
    layers, labels: np.ndarray, *, bin_size: float | None = None, n_bins: int | None = None, value_range=None
) -> LayerCounts:
    """The state counts of several layers of the same rows (one epoch's layers), binned as ``count_states``
    bins, in one compiled call: per-call overhead, not arithmetic, is the cost of small layers.

    ``labels``: (n_rows,) class indices 0..k-1. Needs numba (``HAVE_NUMBA``).
    """
    if not HAVE_NUMBA:
        raise RuntimeError("count_layers needs numba")
    if bin_size is not None and n_bins is not None:
        raise ValueError("give either n_bins (with value_range) or bin_size, not both")
    if bin_size is None and n_bins is None:
        raise ValueError("count_layers bins float activations: give bin_size or n_bins")
    mode = _FIXED_SIZE if bin_size is not None else _FIXED_WIDTH
    if mode == _FIXED_SIZE and not bin_size > 0:
        raise ValueError(f"bin_size must be > 0, got {bin_size}")
    low, high = value_range if value_range is not None else (-1.0, 1.0)
    if mode == _FIXED_WIDTH and not low < high:
        raise ValueError(f"value_range must have low < high, got {value_range}")
    if mode == _FIXED_WIDTH:
        check_n_bins(n_bins)
    layers = [_normalised(layer, mode) for layer in layers]
    for layer in layers if mode == _FIXED_SIZE else ():
        _check_code_range(layer, bin_size)
    n_rows = len(layers[0]) if layers else 0
    if n_rows == 0:
        raise ValueError("count_layers needs at least one layer with rows")
    if any(len(layer) != n_rows for layer in layers):
        raise ValueError(f"the layers must hold the same rows, got {[len(layer) for layer in layers]}")
    # One dtype for the tuple (float32 layers stay float32 unless mixed with float64); no copy otherwise.
    dtype = np.result_type(*layers)
    # A read-only array is another numba type: copied, so the tuple is uniform and indexable.
    layers = tuple(np.ascontiguousarray(layer, dtype=dtype) for layer in layers)
    layers = tuple(layer if layer.flags.writeable else layer.copy() for layer in layers)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if len(labels) != n_rows:
        raise ValueError(f"labels have {len(labels)} rows but the layers have {n_rows}")
    n_labels = int(labels.max()) + 1 if len(labels) else 1
    if len(labels) and labels.min() < 0:
        raise ValueError("labels must be class indices >= 0")
    edges = np.linspace(low, high, n_bins) if mode == _FIXED_WIDTH else np.zeros(1)
    scale = (n_bins - 1) / (high - low) if mode == _FIXED_WIDTH else 1.0
    size = dtype.type(bin_size if mode == _FIXED_SIZE else 1.0)
    weights = _weights(max(layer.shape[1] for layer in layers))  # each layer the first of them, as in count_states
    binning = (mode, size, float(low), float(scale), edges, weights)
    return LayerCounts(n_rows, *_layers_kernel(layers, labels, n_labels, *binning))


@functools.lru_cache(maxsize=64)
def _weights(n_columns: int) -> np.ndarray:
    """The odd random multipliers of the row hash (the same for every call: a Generator costs ~50 us)."""
    weights = np.random.default_rng(0x1B).integers(0, 2**63, n_columns, dtype=np.uint64) | np.uint64(1)
    weights.setflags(write=False)
    return weights
