"""Names of the attributes every store carries (Zarr root or group attrs, netCDF attrs): written once here,
read by every writer and reader, so a key cannot drift between the stage that writes it and the one that reads it."""

# The params sections a store was made with, as JSON (``ibpipe.schema.sections_json``),
# each store's own sections on top of those of the store it was made from.
PARAMS_ATTR = "params"
# weights.zarr: the ``model_spec`` that rebuilds the network.
MODEL_ATTR = "model"
# Set once a store is whole (``ibpipe.io.stores.new_store``); a reader refuses a store without it.
COMPLETE_ATTR = "complete"
# Every store: the chunk files its writer wrote, recorded when it completed the store
# ({"count": N, "files": {key: [bytes, CRC-32]}}, ``ibpipe.io.chunks``); readers check each chunk they read.
CHUNKS_ATTR = "chunks"

# Layer stores (activations.zarr, codes.zarr): the recorded layers in forward order,
LAYERS_ATTR = "layers"
# their widths (units) and per-sample shapes (an image layer's units are (C, H, W) flattened),
WIDTHS_ATTR = "layer_widths"
SHAPES_ATTR = "layer_shapes"
# the shape of one input sample,
INPUT_SHAPE_ATTR = "input_shape"
# the noise of a noisy network (absent for a deterministic one),
NOISE_STD_ATTR = "noise_std"
# the number of trials (absent = 1),
TRIALS_ATTR = "trials"
# the measured splits (absent = every sample is one measurement),
SPLITS_ATTR = "splits"
# and, on each layer group, the shape of that layer's units.
LAYER_SHAPE_ATTR = "shape"

# codes.zarr: the activation widths of the layers before pooling,
ACTIVATION_WIDTHS_ATTR = "activation_widths"
# the names of the named reductions of an ablation (absent without them),
REDUCTIONS_ATTR = "reduction_names"
# and, as JSON, what each reduction did to each layer (effective pooling and learnt ranges).
REDUCTION_DESCRIPTIONS_ATTR = "reductions"
