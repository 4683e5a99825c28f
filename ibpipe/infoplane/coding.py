"""The reduce stage's work: pool and discretise every layer's activations into integer codes, in the same layout.

Layers stream shard by shard; learnt bins (quantile edges, the data range) come from one
pass over all measured epochs first. The codes store also holds ``x_id``, the state of X
of each sample (the distinct input, or its code when reduce settings name the input), and per
layer ``nonfinite``, the number of NaN or inf activations of each epoch.
"""

from __future__ import annotations

import json
from typing import Any

import zarr

from ibpipe.infoplane import reduce as reducing
from ibpipe.io.arrays import write_array
from ibpipe.io.attrs import (
    ACTIVATION_WIDTHS_ATTR,
    PARAMS_ATTR,
    REDUCTION_DESCRIPTIONS_ATTR,
    REDUCTIONS_ATTR,
    SHAPES_ATTR,
    WIDTHS_ATTR,
)
from ibpipe.io.layers import (
    NONFINITE_ARRAY,
    LayerStoreWriter,
    copy_header,
    epochs_per_shard,
    input_shape,
    layer_chunks,
    layer_shapes,
    layer_widths,
    read_array,
    reduction_prefix,
    samples_per_shard,
    store_trials,
    trial_prefix,
)
from ibpipe.names import INPUT_LAYER
from ibpipe.progress import progress


def write_codes(source: zarr.Group, root: zarr.Group, reduce_params: Any, params: str) -> None:
    """Code every trial of the activations store ``source`` into ``root`` as the validated ``reduce`` section
    says; ``params`` is the JSON stored in the root attrs.

    Named reductions (an ablation in one run) each code every trial under reductions/<name>/.
    """
    shapes = layer_shapes(source)
    named = reduce_params.named_defaults() or {None: reduce_params.layer_defaults()}
    described, shapes_attrs = {}, {}
    copy_header(source, root)
    for name, defaults in named.items():
        reductions = reducing.layer_reductions(
            defaults, list(shapes), reduce_params.preset_name, reduce_params.layer_overrides()
        )
        reducers = reducing.layer_reducers(reductions, shapes)
        code_shapes = {
            layer: (reducer.n_units,) if reducer.reduction.method == "argmax" else reducer.pooled_shape
            for layer, reducer in reducers.items()
        }
        if not described:  # X's states and the code shapes come from the first reduction
            _write_input_states(source, root, reductions[INPUT_LAYER])
            shapes_attrs = {
                SHAPES_ATTR: {layer: list(shape) for layer, shape in code_shapes.items()},
                WIDTHS_ATTR: {layer: int(reducer.n_units) for layer, reducer in reducers.items()},
            }
        for trial in range(store_trials(source)):
            prefixes = (trial_prefix(trial), reduction_prefix(name) + trial_prefix(trial))
            _reduce_trial(source, root, prefixes, reducers=reducers, code_shapes=code_shapes)
        described[name] = {layer: _described(reducers.get(layer), reduction) for layer, reduction in reductions.items()}
    root.attrs.update(
        {
            PARAMS_ATTR: params,
            **shapes_attrs,
            ACTIVATION_WIDTHS_ATTR: layer_widths(source),
            REDUCTION_DESCRIPTIONS_ATTR: json.dumps(described.get(None, described)),
            **({REDUCTIONS_ATTR: list(named)} if None not in named else {}),
        }
    )


def _write_input_states(source: zarr.Group, root: zarr.Group, input_reduction) -> None:
    """Root array ``x_id``: the state of X of each sample."""
    n_samples = source["labels"].shape[0]
    inputs = read_array(source, "inputs").reshape(n_samples, *input_shape(source))
    write_array(root, "x_id", reducing.input_state_ids(inputs, input_reduction), ("sample",))


def _reduce_trial(source, root, prefixes: tuple[str, str], *, reducers, code_shapes) -> None:
    """Code one trial's layer groups, read at ``prefixes[0]`` + layer and written at ``prefixes[1]`` + layer,
    shard by shard; learnt bins come from that trial."""
    source_prefix, prefix = prefixes
    first = source_prefix + next(iter(layer_shapes(source)))
    n_samples = source["labels"].shape[0]
    writer = LayerStoreWriter(
        root,
        "code",
        shapes=code_shapes,
        epochs=read_array(source, "epoch"),
        n_samples=n_samples,
        epochs_per_shard=epochs_per_shard(source, first, "activation"),
        dtype="int32",
        samples_per_chunk=samples_per_shard(source, first, "activation"),
        prefix=prefix,
    )
    slabs = list(writer.slabs())
    for layer, reducer in progress(reducers.items(), desc=f"reduce {prefix or 'trial0/'}", unit="layer"):
        coded = reducing.code_layer(
            reducer,
            slabs,
            lambda epochs, layer=layer: layer_chunks(source, source_prefix + layer, "activation", epochs),
            lambda epochs, samples, codes, layer=layer: writer.write(epochs, {layer: codes}, samples),
            n_samples,
            layer,
        )
        write_array(root[prefix + layer], "code_low", coded.low, ("unit",))
        write_array(root[prefix + layer], "code_high", coded.high, ("unit",))
        write_array(root[prefix + layer], NONFINITE_ARRAY, coded.nonfinite, ("epoch",))


def _described(reducer, reduction) -> dict | None:
    """What was done to a layer, with the effective pooling window and the learnt ranges."""
    if reduction is None:
        return None
    description = {name: getattr(reduction, name) for name in type(reduction).model_fields}
    if reducer is not None:
        description.update(
            pool=None if reducer.window is None else list(reducer.window),
            value_range=None if reducer.value_range_ is None else list(reducer.value_range_),
            unit_ranges=None if reducer.unit_ranges_ is None else reducer.unit_ranges_.tolist(),
        )
    return description
