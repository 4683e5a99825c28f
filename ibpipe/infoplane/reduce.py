"""Per-layer coarse-graining of activations into integer codes: arrays in, codes out.

The binning kernels themselves (fixed-width, fixed-size, quantile, equal-mass, EBAB, threshold,
argmax, pooling) live with the estimators, in ``ibpipe.estimators.binning``.

``LayerReduction`` is one layer's choice (pooling + method + its settings, each declared once:
the ``reduce`` params section is built on it); ``layer_reductions``
resolves defaults, a named preset (``PRESETS``, the thesis's five) and per-layer overrides;
``LayerReducer`` applies one, fitting learnt bins in a streaming pass over chunks.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from ibpipe.errors import InputError
from ibpipe.estimators.binning import (
    CODE_DTYPE,
    POOLING_KINDS,
    argmax_codes,
    clipped_window,
    codes_from_edges,
    data_range,
    distinct_input_ids,
    ebab_codes,
    ebab_edges,
    equal_mass_edges,
    fixed_size_codes,
    fixed_width_codes,
    pool_activations,
    quantile_edges,
    quantile_range_codes,
    threshold_codes,
)
from ibpipe.infoplane.exact import epoch_value_range, exact_grid_codes
from ibpipe.names import INPUT_LAYER
from ibpipe.schema import Allowed, Settings, allowed_by, one_of, setting

REDUCE_METHODS = (
    "fixed-width",
    "fixed-size",
    "quantile",
    "quantile-pooled",
    "equal-mass",
    "ebab",
    "threshold",
    "argmax",
    "exact",
)
# Codings that need a statistic of each whole epoch first (its bins, or exact's value range).
PER_EPOCH_METHODS = ("quantile", "equal-mass", "ebab", "exact")
# Old names that are no longer accepted, and what to write instead.
RENAMED_METHODS = {
    "adaptive": "'adaptive' was per-unit, per-epoch equal-mass quantile bins, now called 'equal-mass'; "
    "the entropy-based adaptive binning of Chelombiev et al. (ICLR 2019) is 'ebab'"
}
# Share of a layer's finite values outside a fixed value_range above which the reduce stage warns.
CLIP_WARNING_SHARE = 0.05

# Rows kept to learn ranges (quantile edges, equal-mass edges) are capped by values, not rows:
# 2**24 float64 values = 128 MiB whatever the layer width. Below the cap the edges are exact.
MAX_FIT_VALUES = 2**24


def _tuple(value: Any) -> Any:
    """YAML writes lists; a reduction keeps tuples (hashable, as the presets write them)."""
    return tuple(value) if isinstance(value, list) else value


def _none(value: Any) -> Any:
    """params.yaml writes ``none`` for no pooling."""
    return None if value == "none" else _tuple(value)


def _refuse_renamed(value: Any) -> Any:
    if isinstance(value, str) and value in RENAMED_METHODS:
        raise ValueError(f"one of {', '.join(map(repr, REDUCE_METHODS))} ({RENAMED_METHODS[value]})")
    return value


def _low_below_high(value: Any) -> bool:
    return value == "data" or (bool(np.isfinite(value).all()) and value[0] < value[1])


RANGE_ALLOWED = "'data' or a list [low, high] of two numbers with low < high"
POOL_ALLOWED = "'none' or a (channel, height, width) window such as [1, 4, 4]"
Method = Annotated[one_of(REDUCE_METHODS), BeforeValidator(_refuse_renamed)]
ValueRange = Annotated[
    Literal["data"] | tuple[float, float],
    BeforeValidator(_tuple),
    allowed_by(_low_below_high, RANGE_ALLOWED),
    Allowed(RANGE_ALLOWED),
    WithJsonSchema(
        {"anyOf": [{"const": "data"}, {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}]}
    ),
]
Window = tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]
Pool = Annotated[
    Window | None,
    BeforeValidator(_none),
    PlainSerializer(lambda window: "none" if window is None else list(window)),
    Allowed(POOL_ALLOWED),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "none"},
                {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 3, "maxItems": 3},
            ]
        }
    ),
]


class LayerReduction(Settings):
    """How one layer's activations become codes: optional (channel, h, w) pooling, then a discretisation.

    The same settings are the ``reduce`` section of params.yaml (its defaults for every layer) and
    each entry of ``reduce.layers`` / ``reduce.reductions``.
    """

    method: Method = setting("fixed-width", "how activations become integer codes")
    n_bins: int = setting(
        30,
        "edges of 'fixed-width' (Tishby: 30); levels per unit of 'quantile' and 'quantile-pooled'; bins of "
        "'equal-mass' and 'ebab'",
        ge=2,
        le=1_000_000,
    )
    # defaults are written as params.yaml writes them, and validated like any value
    model_config = ConfigDict(validate_default=True)

    value_range: ValueRange = setting([-1.0, 1.0], "range of 'fixed-width' bins, or 'data'", unit="activation units")
    bin_size: float = setting(0.07, "bin size of 'fixed-size' (Saxe: 0.07)", unit="activation units", gt=0.0)
    q_low: float = setting(
        0.01, "lower per-unit border quantile of 'quantile' (each epoch's) and 'quantile-pooled'", ge=0.0, le=1.0
    )
    q_high: float = setting(
        0.99, "upper per-unit border quantile of 'quantile' (each epoch's) and 'quantile-pooled'", ge=0.0, le=1.0
    )
    threshold: float = setting(0.5, "'threshold': code 1 where x > threshold", unit="activation units")
    pool: Pool = setting("none", "(channel, h, w) pooling before coding, or 'none'")
    pool_kind: one_of(POOLING_KINDS) = setting("max", "pooling: max or avg")
    bits: int = setting(8, "'exact': bits of the quantized network (model.quantize.bits)", ge=1, le=16)

    def __init__(self, *method: str, **settings: Any) -> None:
        # LayerReduction("quantile", n_bins=4): the method reads first, as in the presets
        super().__init__(**dict(zip(("method",), method)), **settings)

    @property
    def learns_ranges(self) -> bool:
        """Whether bins come from the data of all measured epochs (a pass before coding)."""
        return self.method == "quantile-pooled" or (self.method == "fixed-width" and self.value_range == "data")


def _thesis_preset(
    window1: tuple[int, int, int], window2: tuple[int, int, int], kind: str, output: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    return {
        INPUT_LAYER: {"pool": (1, 4, 4), "pool_kind": "max", "method": "threshold", "threshold": 0.5},
        "z1": {"pool": window1, "pool_kind": kind, "method": "quantile"},
        "z2": {"pool": window2, "pool_kind": kind, "method": "quantile"},
        "output": output or {"method": "argmax"},
    }


# The thesis presets (pooling windows as (channel, h, w)) for the layers z1, z2, output of the
# thesis and digits CNNs. Every preset pools the input 4x4 (max) and binarises it (x > 0.5),
# codes z1 and z2 by the thesis's per-epoch quantile coding (reduce.n_bins levels per unit between
# that epoch's q_low and q_high quantiles) and the output by argmax; thesis-softmax is thesis-1
# with the softmax output Z3 binarised (p > 0.5 per class: 10 binary units, at most 2^10 codes).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "thesis-1": _thesis_preset((1, 4, 4), (1, 3, 3), "max"),
    "thesis-2": _thesis_preset((2, 4, 4), (2, 3, 3), "max"),
    "thesis-3": _thesis_preset((4, 4, 4), (4, 3, 3), "max"),
    "thesis-4": _thesis_preset((1, 7, 7), (1, 7, 7), "max"),
    "thesis-5": _thesis_preset((1, 7, 7), (1, 7, 7), "avg"),
    "thesis-softmax": _thesis_preset((1, 4, 4), (1, 3, 3), "max", {"method": "threshold", "threshold": 0.5}),
}


def thesis_quantile_codes(values: np.ndarray, n_bins: int, unit_ranges: np.ndarray) -> np.ndarray:
    """The thesis coding: per unit, ``n_bins`` equal levels 0..n_bins-1 between ``unit_ranges[0]`` and
    ``unit_ranges[1]`` (that epoch's q_low and q_high quantiles), values outside clipped into the end
    levels, so a unit takes exactly ``n_bins`` levels; a non-finite value gets the reserved code ``n_bins``."""
    low, high = unit_ranges
    values = np.asarray(values, dtype=np.float64)
    width = np.where(high > low, high - low, 1.0) / n_bins
    with np.errstate(invalid="ignore"):
        scaled = np.clip(np.floor((values - low) / width), 0, n_bins - 1)
    codes = np.where(np.isfinite(values), scaled, n_bins).astype(CODE_DTYPE)
    return codes


def layer_reductions(
    defaults: Mapping[str, Any],
    layers: Sequence[str],
    preset: str | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, LayerReduction | None]:
    """The reduction of every layer and of the ``input`` (``None``: inputs are told apart exactly).

    Later sources win: ``defaults`` (all recorded layers), then the ``preset``, then the
    per-layer ``overrides``. A preset or override naming a layer the network does not have
    is an error, except a preset's layers on a network without them (presets are written
    for the CNNs' z1, z2, output).
    """
    overrides = dict(overrides or {})
    known = [INPUT_LAYER, *layers]
    unknown = [name for name in overrides if name not in known]
    if unknown:
        raise InputError(
            f"reduce.layers names {unknown}, which this network does not record; its layers are {', '.join(known)}"
        )
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown reduce.preset {preset!r}; known: {', '.join(PRESETS)}")
    chosen = PRESETS[preset] if preset else {}
    reductions: dict[str, LayerReduction | None] = {}
    for name in known:
        settings = {} if name == INPUT_LAYER else dict(defaults)
        settings.update(chosen.get(name, {}))
        settings.update(overrides.get(name, {}))
        if name == INPUT_LAYER and not settings:
            reductions[name] = None
        else:
            base = dict(defaults) if name == INPUT_LAYER else {}
            reductions[name] = LayerReduction(**{**base, **settings})
    return reductions


class LayerReducer:
    """Codes of one layer, scikit-learn style: ``fit`` learns the bins, ``transform`` applies them.

    Activations arrive as (n_samples, n_units) float arrays, a unit being one element of the
    layer's ``shape`` in C order; pooling reshapes them to ``shape`` first. ``fit`` reads
    an iterable of chunks (any split over epochs and samples) once, so the pass is
    streaming; ranges come from the pooled values, and quantile edges from every k-th row
    when more than ``max_fit_values`` values pass (evenly over epochs and samples).

    Attributes after ``fit``: ``value_range_`` (fixed-width on 'data'), ``unit_ranges_``
    (quantile-pooled: array (2, n_pooled_units)). ``quantile`` (the thesis coding) learns its
    borders per epoch instead, in ``epoch_statistic``.
    """

    def __init__(self, reduction: LayerReduction, shape: Sequence[int], max_fit_values: int = MAX_FIT_VALUES):
        self.reduction = reduction
        self.shape = tuple(int(size) for size in shape)
        self.max_fit_values = max_fit_values
        self.window = None if reduction.pool is None else clipped_window(reduction.pool, self.shape)
        self.value_range_: tuple[float, float] | None = (
            None if reduction.value_range == "data" else tuple(reduction.value_range)
        )
        self.unit_ranges_: np.ndarray | None = None

    @property
    def fixed_clip_range(self) -> tuple[float, float] | None:
        """The user's fixed ``value_range`` of fixed-width bins (values outside it are clipped), else None."""
        if self.reduction.method != "fixed-width" or self.reduction.value_range == "data":
            return None
        return tuple(self.reduction.value_range)

    @property
    def pooled_shape(self) -> tuple[int, ...]:
        if self.window is None:
            return self.shape
        return tuple(extent // size for extent, size in zip(self.shape, self.window))

    @property
    def n_units(self) -> int:
        """Columns of the codes."""
        return 1 if self.reduction.method == "argmax" else int(np.prod(self.pooled_shape))

    def pool(self, values: np.ndarray) -> np.ndarray:
        """(n_samples, n_units) activations pooled as configured, flat again: (n_samples, n_pooled_units)."""
        values = np.asarray(values)
        if self.window is None:
            return values
        return pool_activations(
            values.reshape(len(values), *self.shape), self.window, self.reduction.pool_kind
        ).reshape(len(values), -1)

    def fit(self, chunks: Iterable[np.ndarray], n_rows: int) -> LayerReducer:
        """Learn the bins from ``chunks`` holding ``n_rows`` rows in all; a no-op for fixed bins."""
        method = self.reduction.method
        if not self.reduction.learns_ranges:
            return self
        if method == "fixed-width":
            low, high = np.inf, -np.inf
            for chunk in chunks:
                pooled = self.pool(chunk)
                finite = pooled[np.isfinite(pooled)]
                if finite.size:
                    low, high = min(low, float(finite.min())), max(high, float(finite.max()))
            self.value_range_ = data_range(low, high)
            return self
        kept = _every_kth_row(
            (self.pool(chunk) for chunk in chunks),
            n_rows,
            self.max_fit_values // max(1, int(np.prod(self.pooled_shape))),
        )
        self.unit_ranges_ = quantile_edges(kept, self.reduction.q_low, self.reduction.q_high)
        return self

    def epoch_edges(self, chunks: Iterable[np.ndarray], n_rows: int) -> np.ndarray:
        """The bins of one epoch, for ``transform``: the per-unit (q_low, q_high) borders (2, n_pooled_units)
        of ``quantile``, inner edges (n_bins - 1, n_pooled_units) of ``equal-mass`` bins, or the
        (n_bins + 2,) edges of ``ebab`` shared by the layer's units."""
        kept = _every_kth_row(
            (self.pool(chunk) for chunk in chunks),
            n_rows,
            self.max_fit_values // max(1, int(np.prod(self.pooled_shape))),
        )
        if self.reduction.method == "ebab":
            return ebab_edges(kept, self.reduction.n_bins)
        if self.reduction.method == "quantile":
            return quantile_edges(kept, self.reduction.q_low, self.reduction.q_high)
        return equal_mass_edges(kept, self.reduction.n_bins)

    def epoch_statistic(self, chunks: Iterable[np.ndarray], n_rows: int):
        """What ``transform`` needs of a whole epoch: the borders of quantile, the bins of equal-mass and ebab,
        exact's value range."""
        if self.reduction.method == "exact":
            return epoch_value_range(self.pool(chunk) for chunk in chunks)
        return self.epoch_edges(chunks, n_rows)

    def transform(self, values: np.ndarray, epoch_edges: np.ndarray | None = None) -> np.ndarray:
        """Codes (n_samples, n_units) of activations; ``quantile``, ``equal-mass``, ``ebab`` and ``exact`` need
        their epoch's ``epoch_statistic``."""
        reduction = self.reduction
        pooled = self.pool(values)
        if reduction.method == "fixed-width":
            if self.value_range_ is None:
                raise ValueError("fixed-width bins on the data range need fit() first")
            return fixed_width_codes(pooled, reduction.n_bins, self.value_range_)
        if reduction.method == "fixed-size":
            return fixed_size_codes(pooled, reduction.bin_size)
        if reduction.method == "quantile-pooled":
            if self.unit_ranges_ is None:
                raise ValueError("quantile-pooled bins need fit() first")
            return quantile_range_codes(pooled, reduction.n_bins, self.unit_ranges_)
        if reduction.method in PER_EPOCH_METHODS and epoch_edges is None:
            raise ValueError(f"{reduction.method} codes need the epoch's epoch_statistic()")
        if reduction.method == "quantile":
            return thesis_quantile_codes(pooled, reduction.n_bins, epoch_edges)
        if reduction.method == "exact":
            return exact_grid_codes(pooled, reduction.bits, epoch_edges)
        if reduction.method == "ebab":
            return ebab_codes(pooled, epoch_edges)
        if reduction.method == "equal-mass":
            return codes_from_edges(pooled, epoch_edges)
        if reduction.method == "threshold":
            return threshold_codes(pooled, reduction.threshold)
        return argmax_codes(pooled)

    def fit_transform_epoch(self, values: np.ndarray) -> np.ndarray:
        """Codes of one epoch seen alone: learnt ranges come from this epoch (delta-skip probes, the inputs)."""
        self.fit([values], len(values))
        edges = self.epoch_statistic([values], len(values)) if self.reduction.method in PER_EPOCH_METHODS else None
        return self.transform(values, edges)


def layer_reducers(
    reductions: Mapping[str, LayerReduction | None], shapes: Mapping[str, Sequence[int]]
) -> dict[str, LayerReducer]:
    """A ``LayerReducer`` per recorded layer; a setting that does not fit a layer is an error naming it."""
    reducers = {}
    for layer, shape in shapes.items():
        try:
            reducers[layer] = LayerReducer(reductions[layer], shape)
        except ValueError as error:
            raise InputError(
                f"reduce settings of layer {layer!r} (shape {tuple(shape)}): {error}; "
                "change them for this layer in reduce.layers"
            ) from error
    return reducers


def _every_kth_row(chunks: Iterable[np.ndarray], n_rows: int, max_rows: int) -> np.ndarray:
    """Every k-th row of the concatenated chunks, k chosen so at most ``max_rows`` remain."""
    stride = max(1, -(-n_rows // max(1, max_rows)))
    kept, seen = [], 0
    for chunk in chunks:
        # A copy, not a view: a view would keep every whole chunk alive until the concatenation.
        kept.append(chunk[(-seen) % stride :: stride].copy())
        seen += len(chunk)
    return np.concatenate(kept)


def input_state_ids(inputs: np.ndarray, reduction: LayerReduction | None) -> np.ndarray:
    """Which state of X each row is: the distinct input, or its code under ``reduction`` (e.g. pooled and binarised)."""
    if reduction is None:
        return distinct_input_ids(inputs)
    flat = np.asarray(inputs).reshape(len(inputs), -1)
    shape = np.asarray(inputs).shape[1:]
    codes = LayerReducer(reduction, shape).fit_transform_epoch(flat)
    return distinct_input_ids(codes)


ChunkReader = Callable[[slice], Iterable[tuple[slice, np.ndarray]]]


class CodedLayer(NamedTuple):
    """What ``code_layer`` learnt while coding one layer.

    ``low``, ``high``: each code column's smallest and largest code over all epochs (exact row
    keys chunk by chunk in the estimate stage); ``nonfinite``: per epoch, how many activations
    were NaN or inf; ``clipped``: the share of finite values outside a fixed ``value_range``
    (NaN for other methods).
    """

    low: np.ndarray
    high: np.ndarray
    nonfinite: np.ndarray
    clipped: float


def code_layer(
    reducer: LayerReducer,
    slabs: Sequence[slice],
    read: ChunkReader,
    write: Callable[[slice, slice, np.ndarray], None],
    n_samples: int,
    layer: str = "this layer",
) -> CodedLayer:
    """Stream one layer through ``reducer``: fit on every chunk, then code and write chunk by chunk.

    ``read(epochs)`` yields (samples, values (n_epochs, n_chunk, n_units)) for an epoch slab;
    ``write(epochs, samples, codes)`` stores a chunk's codes. Warns (naming ``layer``) when a
    fixed value range clips more than ``CLIP_WARNING_SHARE`` of the finite values.
    """

    def rows(epochs: slice):
        for _, values in read(epochs):
            yield values.reshape(-1, values.shape[-1])

    n_epochs = sum(slab.stop - slab.start for slab in slabs)
    reducer.fit((chunk for slab in slabs for chunk in rows(slab)), n_epochs * n_samples)
    low = np.full(reducer.n_units, np.iinfo(CODE_DTYPE).max, dtype=np.int64)
    high = np.full(reducer.n_units, np.iinfo(CODE_DTYPE).min, dtype=np.int64)
    nonfinite = np.zeros(n_epochs, dtype=np.int64)
    clip_range = reducer.fixed_clip_range
    outside, finite_count = 0, 0
    per_epoch = reducer.reduction.method in PER_EPOCH_METHODS
    for slab in slabs:
        edges = [None] * (slab.stop - slab.start)
        if per_epoch:
            for position in range(len(edges)):
                edges[position] = reducer.epoch_statistic((values[position] for _, values in read(slab)), n_samples)
        for samples, values in read(slab):
            codes = np.stack(
                [reducer.transform(epoch_values, epoch_edges) for epoch_values, epoch_edges in zip(values, edges)]
            )
            finite = np.isfinite(values)
            nonfinite[slab] += values[0].size - finite.reshape(len(values), -1).sum(axis=1)
            if clip_range is not None:
                pooled = reducer.pool(values.reshape(-1, values.shape[-1]))
                outside += int(np.count_nonzero((pooled < clip_range[0]) | (pooled > clip_range[1])))
                finite_count += int(np.count_nonzero(np.isfinite(pooled)))
            np.minimum(low, codes.min(axis=(0, 1)), out=low)
            np.maximum(high, codes.max(axis=(0, 1)), out=high)
            write(slab, samples, codes)
    clipped = outside / finite_count if finite_count else np.nan
    if clipped > CLIP_WARNING_SHARE:
        warnings.warn(
            f"reduce: value_range {list(clip_range)} clips {clipped:.1%} of the values of layer {layer!r} into its "
            "two end bins; set reduce.value_range: data (or reduce.layers.<layer>.value_range) for this layer",
            stacklevel=2,
        )
    return CodedLayer(low, high, nonfinite, clipped)
