"""The params.yaml schema: one table of sections, keys, defaults and allowed values.

``load_params`` validates the whole file before any stage does work. Every problem is
reported at once, each naming the key, the value found and what is allowed, so a user
fixes params.yaml in one pass.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ibpipe.data import DATASETS, Dataset, load_dataset
from ibpipe.data.manifolds import MANIFOLDS
from ibpipe.dimension import BANDWIDTH_RULES
from ibpipe.estimators import ESTIMATORS as ESTIMATOR_REGISTRY
from ibpipe.reduce import INPUT_LAYER, POOLING_KINDS, PRESETS, REDUCE_METHODS

MEASURE_ON = ("all", "train", "test")
ARCHITECTURES = ("mlp", "thesis-cnn", "digits-cnn", "custom")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
AE_ACTIVATIONS = ("elu", "relu", "tanh")
DIMENSION_ESTIMATORS = ("corrdim", "twonn")
SELECT_METHODS = ("all", "every", "log", "stepped", "delta-exact", "delta-approx")
COUNTING_ESTIMATORS = tuple(name for name, info in ESTIMATOR_REGISTRY.items() if info.needs == "codes")
ESTIMATORS = tuple(ESTIMATOR_REGISTRY)
SCHEDULER_KINDS = ("local", "threads", "synchronous")


class ParamsError(ValueError):
    """params.yaml is malformed; the message lists every offending key."""


Check = Callable[[Any], str | None]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if not _is_int(value):
            return "an integer"
        if minimum is not None and value < minimum:
            return f"an integer >= {minimum}"
        if maximum is not None and value > maximum:
            return f"an integer <= {maximum}"
        return None

    return check


def number(minimum: float | None = None, maximum: float | None = None, open_low: bool = False, open_high: bool = False) -> Check:
    low = "" if minimum is None else f" {'>' if open_low else '>='} {minimum}"
    high = "" if maximum is None else f" {'<' if open_high else '<='} {maximum}"
    wanted = "a number" + (low + (" and" if low and high else "") + high if low or high else "")
    hint = " (write 4.0e-4, not 4e-4: YAML reads the latter as text)"

    def check(value: Any) -> str | None:
        if not _is_number(value):
            return wanted + (hint if isinstance(value, str) else "")
        too_low = minimum is not None and (value <= minimum if open_low else value < minimum)
        too_high = maximum is not None and (value >= maximum if open_high else value > maximum)
        return wanted if too_low or too_high else None

    return check


def one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else "one of " + ", ".join(map(repr, allowed))

    return check


def list_of(item: Check, min_length: int = 1, unique: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list | tuple) or len(value) < min_length:
            return f"a list of at least {min_length} item(s)"
        for position, element in enumerate(value):
            problem = item(element)
            if problem:
                return f"a list whose items are each {problem} (item {position} is {element!r})"
        if unique and len(set(value)) != len(value):
            return "a list without repeated items"
        return None

    return check


def off_or(check: Check) -> Check:
    """0 switches a feature off; anything else must pass ``check``."""

    def checked(value: Any) -> str | None:
        problem = None if _is_int(value) and value == 0 else check(value)
        return None if problem is None else f"0 (off) or {problem}"

    return checked


def value_range_or_data(value: Any) -> str | None:
    allowed = "'data' or a list [low, high] of two numbers with low < high"
    if value == "data":
        return None
    if isinstance(value, list | tuple) and len(value) == 2 and all(map(_is_number, value)):
        return None if value[0] < value[1] else allowed
    return allowed


def scheduler(value: Any) -> str | None:
    if value in SCHEDULER_KINDS or (isinstance(value, str) and "://" in value):
        return None
    return "one of " + ", ".join(map(repr, SCHEDULER_KINDS)) + " or a scheduler address such as 'tcp://host:8786'"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a text value"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def mapping_of(value_check: Check, what: str) -> Check:
    """A mapping with text keys whose values each pass ``value_check``."""

    def check(value: Any) -> str | None:
        if not isinstance(value, Mapping) or not all(isinstance(name, str) and name for name in value):
            return f"a mapping of {what}"
        for name, item in value.items():
            problem = value_check(item)
            if problem:
                return f"a mapping of {what} (entry {name!r} = {item!r} is not {problem})"
        return None

    return check


def anything(_value: Any) -> str | None:
    return None


def none_or(allowed: str, check: Check) -> Check:
    """The text 'none' switches a feature off; anything else must pass ``check``."""

    def checked(value: Any) -> str | None:
        problem = None if value == "none" else check(value)
        return None if problem is None else f"'none' or {problem}"

    return checked


def pooling_window(value: Any) -> str | None:
    wanted = "a (channel, height, width) window such as [1, 4, 4]"
    if isinstance(value, list | tuple) and len(value) == 3 and all(_is_int(size) and size >= 1 for size in value):
        return None
    return wanted


def layer_reduction(value: Any) -> str | None:
    """One entry of reduce.layers: any of the per-layer reduce keys, each with its own check."""
    allowed = {name: spec for name, spec in ReduceParams.__dataclass_fields__.items() if name in LAYER_REDUCTION_KEYS}
    if not isinstance(value, Mapping):
        return "a mapping of reduce settings (" + ", ".join(allowed) + ")"
    for name, item in value.items():
        if name not in allowed:
            return f"a mapping of reduce settings; {name!r} is not one (allowed: {', '.join(allowed)})"
        problem = allowed[name].metadata["check"](item)
        if problem:
            return f"valid: its {name} = {item!r} is not {problem}"
    return None


def key(default: Any, check: Check, doc: str) -> Any:
    factory = (lambda: list(default)) if isinstance(default, list) else (lambda: dict(default)) if isinstance(default, dict) else None
    metadata = {"check": check, "doc": doc}
    if factory:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class DatasetParams:
    name: str = key("tishby12", one_of(*DATASETS), "which dataset to train and measure on")
    root: str = key("auto", text, "mnist/fashion_mnist: directory of the four IDX files ('auto': data/<name>)")
    download: bool = key(False, boolean, "mnist/fashion_mnist: let torchvision download missing files (needs torchvision and internet)")
    test_fraction: float = key(0.2, number(0.0, 0.9, open_low=True), "share of rows held out for testing")
    split_seed: int = key(0, integer(0), "seed of the stratified train/test split")
    measure_on: str = key("all", one_of(*MEASURE_ON), "rows the information is measured on")

    def load(self) -> Dataset:
        """The dataset these settings name, split, with its measured rows chosen."""
        return load_dataset(self.name, self.test_fraction, self.split_seed, self.measure_on, None if self.root == "auto" else self.root, self.download)


@dataclass(frozen=True)
class ModelParams:
    arch: str = key("mlp", one_of(*ARCHITECTURES), "network family")
    widths: list[int] = key([10, 7, 5, 4, 3], list_of(integer(1, 4096)), "hidden layer widths, input to output")
    activation: str = key("tanh", one_of(*ACTIVATIONS), "hidden-layer nonlinearity")
    factory: str = key("", text, "custom: import path 'package.module:factory' of a function returning a torch.nn.Module")
    kwargs: dict = key({}, mapping_of(anything, "keyword arguments"), "custom: keyword arguments of the factory")
    layers: dict = key({}, mapping_of(lambda v: None if isinstance(v, str) and v else "a module path", "layer name -> module path"), "custom: layers to record, name -> module path (e.g. hidden: encoder.2)")
    softmax: str = key("output", text, "custom: recorded layer whose output is logits, recorded as softmax ('' for none)")
    checkpoint: str = key("", text, "optional state_dict file (torch.save) the network starts from, loaded with weights_only=True")


@dataclass(frozen=True)
class TrainParams:
    epochs: int = key(8000, integer(1, 1_000_000), "number of training epochs")
    batch_size: int = key(256, integer(1), "minibatch size")
    learning_rate: float = key(4.0e-4, number(0.0, 10.0, open_low=True), "Adam learning rate")
    seed: int = key(0, integer(0), "seed of initialisation and minibatch order")
    torch_threads: int = key(1, integer(1, 256), "torch intra-op threads (1 is fastest for small networks)")


@dataclass(frozen=True)
class SelectParams:
    method: str = key("log", one_of(*SELECT_METHODS), "which epochs are measured")
    every: int = key(100, integer(1), "step of the 'every' schedule")
    n_points: int = key(400, integer(2), "points of the 'log' schedule before duplicates are dropped")
    step_bounds: list[int] = key([20, 100, 2000], list_of(integer(1), unique=True), "epochs where the 'stepped' schedule changes step")
    step_sizes: list[int] = key([1, 5, 20, 100], list_of(integer(1)), "steps of 'stepped': one below each bound, one after the last")
    delta: float = key(0.02, number(0.0, 1.0, open_low=True), "delta-*: largest change of I(.;T)/H(.) between measured epochs")
    factor: float = key(2.0, number(1.0, 100.0, open_low=True), "delta-*: growth of the skip after a small change (> 1)")
    probe: str = key("plugin", one_of(*COUNTING_ESTIMATORS), "delta-*: counting estimator of the probes, on the reduce settings in force")
    workers: int = key(2, integer(1, 256), "delta-*: Dask workers that measure probe epochs")


@dataclass(frozen=True)
class DumpParams:
    epochs_per_shard: int = key(16, integer(1, 4096), "epochs stored together in one Zarr shard")
    samples_per_chunk: int = key(10000, integer(1), "samples per shard; memory ~ epochs_per_shard x samples_per_chunk x units x 4 bytes")


@dataclass(frozen=True)
class ReduceParams:
    method: str = key("fixed-width", one_of(*REDUCE_METHODS), "how activations become integer codes")
    n_bins: int = key(30, integer(2, 1_000_000), "edges of 'fixed-width' (Tishby: 30); bins of 'quantile' and 'adaptive'")
    value_range: Any = key([-1.0, 1.0], value_range_or_data, "range of 'fixed-width' bins, or 'data'")
    bin_size: float = key(0.07, number(0.0, open_low=True), "bin size of 'fixed-size' (Saxe: 0.07)")
    q_low: float = key(0.01, number(0.0, 1.0), "lower per-unit quantile of 'quantile' bins")
    q_high: float = key(0.99, number(0.0, 1.0), "upper per-unit quantile of 'quantile' bins")
    threshold: float = key(0.5, number(), "'threshold': code 1 where x > threshold")
    pool: Any = key("none", none_or("none", pooling_window), "(channel, h, w) pooling before coding, or 'none'")
    pool_kind: str = key("max", one_of(*POOLING_KINDS), "pooling: max or avg")
    preset: str = key("none", one_of("none", *PRESETS), "named per-layer settings (thesis-1..5 for the CNNs' input, z1, z2, output)")
    layers: dict = key({}, mapping_of(layer_reduction, "layer name -> reduce settings"), "per-layer settings over the defaults and the preset ('input' codes X)")

    def layer_defaults(self) -> dict[str, Any]:
        """The settings every recorded layer starts from, as ``ibpipe.reduce.LayerReduction`` keywords."""
        return {name: _reduction_value(name, getattr(self, name)) for name in LAYER_REDUCTION_KEYS}

    def layer_overrides(self) -> dict[str, dict[str, Any]]:
        return {layer: {name: _reduction_value(name, value) for name, value in settings.items()} for layer, settings in self.layers.items()}

    @property
    def preset_name(self) -> str | None:
        return None if self.preset == "none" else self.preset


LAYER_REDUCTION_KEYS = ("method", "n_bins", "value_range", "bin_size", "q_low", "q_high", "threshold", "pool", "pool_kind")


def _reduction_value(name: str, value: Any) -> Any:
    if name == "pool":
        return None if value == "none" else tuple(value)
    if name == "value_range" and value != "data":
        return tuple(value)
    return value


@dataclass(frozen=True)
class EstimateParams:
    estimators: list[str] = key(["plugin", "miller-madow", "kde-upper", "kde-lower"], list_of(one_of(*ESTIMATORS), unique=True), "estimators to run")
    noise_variance: float = key(1.0e-3, number(0.0, open_low=True), "s2 of the Gaussian noise of kde-* and knn")
    n_neighbors: int = key(3, integer(1, 1000), "k of the knn estimator")
    bootstrap_resamples: int = key(0, off_or(integer(2, 100_000)), "bootstrap replicas for intervals (0 = off)")
    bootstrap_level: float = key(0.9, number(0.0, 1.0, open_low=True, open_high=True), "coverage of the bootstrap interval")
    seed: int = key(0, integer(0), "seed of bootstrap resampling and knn noise")
    window: int = key(1, integer(1, 1000), "pool this many consecutive measured epochs into one sample ('as if random'; 1 = off)")
    scheduler: str = key("local", scheduler, "Dask scheduler: local process cluster, threads, synchronous or an address")
    workers: int = key(2, integer(1, 256), "Dask workers of the local cluster")
    dimensions: list[str] = key(["corrdim", "twonn"], list_of(one_of(*DIMENSION_ESTIMATORS), min_length=0, unique=True), "intrinsic dimension of the raw activations per (epoch, layer) ([] = off)")
    dimension_pairs: int = key(100_000, integer(100), "correlation dimension: pairs used at most per (epoch, layer)")


AE_SOURCES = (*DATASETS, *MANIFOLDS, "layer")


@dataclass(frozen=True)
class AeParams:
    source: str = key("digits", one_of(*AE_SOURCES), "points of the autoencoder curve: a dataset's inputs, a synthetic manifold, or a recorded layer")
    n_samples: int = key(2000, integer(3), "synthetic: points drawn; datasets and layers: at most this many rows (seeded subset)")
    ambient_dim: int = key(20, integer(1, 100_000), "synthetic: dimension D of the space the manifold is embedded in")
    intrinsic_dim: int = key(5, integer(1, 1000), "synthetic linear / sphere: the true dimension k")
    noise: float = key(0.01, number(0.0), "synthetic: standard deviation of the Gaussian noise in R^D")
    layer: str = key("", text, "source layer: the recorded layer (from data/activations.zarr)")
    epoch: int = key(-1, integer(-1), "source layer: the measured epoch (-1: the last)")
    dmax: int = key(8, integer(1, 256), "code sizes d = 1..dmax")
    widths: list[int] = key([64, 32], list_of(integer(1, 4096)), "hidden widths of the encoder (the decoder mirrors them)")
    activation: str = key("elu", one_of(*AE_ACTIVATIONS), "autoencoder nonlinearity")
    learning_rate: float = key(1.0e-3, number(0.0, 10.0, open_low=True), "Adam learning rate")
    batch_size: int = key(128, integer(1), "minibatch size")
    max_epochs: int = key(2000, integer(1), "epochs at most per autoencoder")
    patience: int = key(200, integer(1), "early stopping: epochs without a better validation MSE (plateaus are long)")
    val_fraction: float = key(0.2, number(0.0, 0.9, open_low=True), "held-out share for early stopping and the reported MSE")
    seed: int = key(0, integer(0), "seed of the data, the split and every autoencoder (d is added)")
    bandwidth: Any = key("loo-ml", lambda v: None if v in BANDWIDTH_RULES or (_is_number(v) and v > 0) else "one of " + ", ".join(map(repr, BANDWIDTH_RULES)) + " or a number > 0", "KDE bandwidth of the code entropies")
    noise_factor: float = key(0.1, number(0.0, open_low=True), "I_noise: noise variance = noise_factor x mean code variance")
    corr_q_low: float = key(0.001, number(0.0, 1.0, open_low=True), "correlation dimension: lower pair-distance quantile of the scaling range")
    corr_q_high: float = key(0.05, number(0.0, 1.0, open_low=True), "correlation dimension: upper pair-distance quantile")
    max_pairs: int = key(500_000, integer(100), "correlation dimension: pairs used at most (a seeded subset above)")
    scheduler: str = key("local", scheduler, "Dask scheduler of the autoencoders: local process cluster, threads, synchronous or an address")
    workers: int = key(2, integer(1, 256), "Dask workers of the local cluster (one thread each)")


NEURON_DATASETS = ("iris", "wine", "digits")
NEURON_METRICS = ("euclidean", "w2")


@dataclass(frozen=True)
class NeuronsParams:
    dataset: str = key("iris", one_of(*NEURON_DATASETS), "scikit-learn dataset of the neuron-space experiment")
    test_fraction: float = key(0.3, number(0.0, 0.9, open_low=True), "stratified test share (accuracy is measured on it)")
    split_seed: int = key(0, integer(0), "seed of the split")
    hidden: int = key(32, integer(1, 4096), "neurons of the hidden layer")
    activation: str = key("tanh", one_of(*ACTIVATIONS), "hidden nonlinearity (odd ones align with sign flips)")
    epochs: int = key(1000, integer(1), "full-batch Adam steps per network")
    learning_rate: float = key(1.0e-2, number(0.0, 10.0, open_low=True), "Adam learning rate")
    seed: int = key(0, integer(0), "seed of the reference, the resamples and the replicas")
    replicas: int = key(30, integer(2, 10_000), "bootstrap replicas B")
    init: str = key("same", one_of("same", "independent"), "replicas start from the reference's initial weights or their own")
    align: str = key("activations", one_of("activations", "weights"), "match replica neurons to the reference by |activation correlation| or weight cosine")
    covariance: str = key("bootstrap", one_of("bootstrap", "sandwich"), "neuron covariances from the aligned replicas or the sandwich H^-1 G H^-1 / N")
    ridge: float = key(1.0e-3, number(0.0), "bootstrap: ridge x the layer's mean per-coordinate variance added to every covariance")
    damping: float = key(1.0e-4, number(0.0), "sandwich: added to each Hessian block before inversion")
    k_max: int = key(0, integer(0), "k = 1..k_max clusters (0: up to the number of neurons)")
    restarts: int = key(5, integer(1, 1000), "k-means runs per (metric, k), seeds seed + r, paired across metrics")
    metrics: list[str] = key(["euclidean", "w2"], list_of(one_of(*NEURON_METRICS), unique=True), "neuron distances: squared Euclidean of means, squared 2-Wasserstein")
    scheduler: str = key("local", scheduler, "Dask scheduler of the replicas: local process cluster, threads, synchronous or an address")
    workers: int = key(2, integer(1, 256), "Dask workers of the local cluster (one thread each)")

    def load(self) -> Dataset:
        return load_dataset(self.dataset, self.test_fraction, self.split_seed)


@dataclass(frozen=True)
class PlotParams:
    dpi: int = key(120, integer(30, 600), "resolution of the PNG figures")
    compare_layer: str = key("auto", lambda v: None if isinstance(v, str) and v else "a layer name such as 'hidden5', or 'auto'", "layer of the estimator comparison ('auto': last hidden layer)")


@dataclass(frozen=True)
class Params:
    dataset: DatasetParams = field(default_factory=DatasetParams)
    model: ModelParams = field(default_factory=ModelParams)
    train: TrainParams = field(default_factory=TrainParams)
    select: SelectParams = field(default_factory=SelectParams)
    dump: DumpParams = field(default_factory=DumpParams)
    reduce: ReduceParams = field(default_factory=ReduceParams)
    estimate: EstimateParams = field(default_factory=EstimateParams)
    ae: AeParams = field(default_factory=AeParams)
    neurons: NeuronsParams = field(default_factory=NeuronsParams)
    plot: PlotParams = field(default_factory=PlotParams)

    def to_json(self) -> str:
        """The validated params, defaults filled in, as one JSON string (for metrics attrs)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def _cross_errors(params: Params) -> list[str]:
    errors = []
    bounds, sizes = params.select.step_bounds, params.select.step_sizes
    if list(bounds) != sorted(bounds) or len(sizes) != len(bounds) + 1:
        errors.append(f"select.step_bounds = {bounds} and select.step_sizes = {sizes}: bounds must increase and there must be one more size than bounds")
    pooled_elsewhere = [name for name in params.estimate.estimators if name not in COUNTING_ESTIMATORS]
    if params.estimate.window > 1 and pooled_elsewhere:
        errors.append(
            f"estimate.window = {params.estimate.window} with estimate.estimators {pooled_elsewhere}: windows pool epochs, "
            f"which only the counting estimators ({', '.join(COUNTING_ESTIMATORS)}) read correctly; set window: 1 or drop them"
        )
    reduce = params.reduce
    for where, settings in [("reduce", dataclasses.asdict(reduce)), *((f"reduce.layers.{layer}", dict(values)) for layer, values in reduce.layers.items())]:
        q_low, q_high = settings.get("q_low", reduce.q_low), settings.get("q_high", reduce.q_high)
        if q_low >= q_high:
            errors.append(f"{where}: q_low = {q_low} and q_high = {q_high}: q_low must be below q_high")
    errors += _model_errors(params.model)
    ae = params.ae
    if ae.corr_q_low >= ae.corr_q_high:
        errors.append(f"ae.corr_q_low = {ae.corr_q_low} and ae.corr_q_high = {ae.corr_q_high}: the low quantile must be below the high one")
    if ae.source == "layer" and not ae.layer:
        errors.append("ae.source = 'layer' needs ae.layer, the recorded layer to read (e.g. hidden3)")
    return errors


def _model_errors(model: ModelParams) -> list[str]:
    if model.arch != "custom":
        given = [name for name in ("factory", "kwargs", "layers") if getattr(model, name)]
        return [f"model.{name} = {getattr(model, name)!r}: only used with model.arch custom (arch is {model.arch!r})" for name in given]
    errors = []
    module, colon, function = model.factory.partition(":")
    if not (module and colon and function):
        errors.append(f"model.factory = {model.factory!r}: model.arch custom needs an import path 'package.module:factory'")
    if not model.layers:
        errors.append("model.layers = {}: model.arch custom needs the layers to record, e.g. {hidden: '1', output: '3'}")
    elif INPUT_LAYER in model.layers:
        errors.append(f"model.layers names a layer {INPUT_LAYER!r}: that name means the network's input in reduce.layers; rename the layer")
    elif model.softmax and model.softmax not in model.layers:
        errors.append(f"model.softmax = {model.softmax!r}: not one of the recorded model.layers ({', '.join(model.layers)}); use '' for none")
    return errors


def _section_errors(name: str, cls: type, raw: Any) -> tuple[dict, list[str]]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return {}, [f"{name}: expected a mapping of keys, got {raw!r}"]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    errors = [
        f"{name}.{unknown}: unknown key; allowed keys are {', '.join(fields)}"
        for unknown in raw
        if unknown not in fields
    ]
    values = {}
    for key_name, spec in fields.items():
        if key_name not in raw:
            continue
        value = raw[key_name]
        problem = spec.metadata["check"](value)
        if problem:
            errors.append(f"{name}.{key_name} = {value!r}: expected {problem}")
        else:
            values[key_name] = value
    return values, errors


def validate_params(raw: Any) -> Params:
    """Turn a parsed params.yaml into ``Params``; raise ``ParamsError`` listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params.yaml must be a mapping of sections, got {type(raw).__name__}")
    sections = {f.name: f.default_factory for f in dataclasses.fields(Params)}
    errors = [
        f"{unknown}: unknown section; allowed sections are {', '.join(sections)}"
        for unknown in raw
        if unknown not in sections
    ]
    built = {}
    for name, cls in sections.items():
        values, section_errors = _section_errors(name, cls, raw.get(name))
        errors += section_errors
        if not section_errors:
            built[name] = cls(**values)
    if errors:
        raise ParamsError("invalid params.yaml:\n  " + "\n  ".join(errors))
    params = Params(**built)
    errors = _cross_errors(params)
    if errors:
        raise ParamsError("invalid params.yaml:\n  " + "\n  ".join(errors))
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params file; every stage calls this before any work."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: no such params file (run from the project directory)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from error
    return validate_params(raw)
