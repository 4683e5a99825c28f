from pathlib import Path

import pytest
import yaml

from ibpipe.config.params import load_params, validate_params
from ibpipe.errors import ParamsError

PROJECT = Path(__file__).resolve().parents[1]


def test_the_shipped_params_file_is_valid_and_spells_out_every_default():
    shipped = load_params(PROJECT / "params.yaml")
    assert dict(shipped) == dict(validate_params({}))
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    assert isinstance(raw["train"]["learning_rate"], float)


@pytest.mark.parametrize(
    ("raw", "named_key", "allowed"),
    [
        ({"model": {"activation": "softplus"}}, "model.activation = 'softplus'", "'tanh'"),
        ({"model": {"widths": [10, 0, 5]}}, "model.widths", "integer >= 1"),
        ({"model": {"widths": 7}}, "model.widths = 7", "a list"),
        ({"train": {"learning_rate": "4e-4"}}, "train.learning_rate = '4e-4'", "write 4.0e-4"),
        ({"train": {"epochs": -3}}, "train.epochs = -3", "integer >= 1"),
        ({"train": {"epochs": 2.5}}, "train.epochs = 2.5", "an integer"),
        ({"train": {"epoch": 10}}, "train.epoch: unknown key", "allowed keys are epochs"),
        ({"trian": {}}, "trian: unknown section", "allowed sections"),
        ({"reduce": {"value_range": [1.0, -1.0]}}, "reduce.value_range", "low < high"),
        ({"select": {"method": "delta"}}, "select.method = 'delta'", "'stepped'"),
        ({"select": {"step_bounds": [100, 20]}}, "select.step_bounds = [100, 20]", "bounds must increase"),
        ({"estimate": {"estimators": ["plugin", "plugin"]}}, "estimate.estimators", "without repeated"),
        ({"estimate": {"scheduler": "cluster"}}, "estimate.scheduler = 'cluster'", "tcp://"),
        ({"dataset": {"test_fraction": 0}}, "dataset.test_fraction = 0", "> 0.0"),
        ({"dataset": "tishby12"}, "dataset: expected a mapping", "tishby12"),
        ({"dataset": {"name": "cifar"}}, "dataset.name = 'cifar'", "'fashion_mnist'"),
        ({"dataset": {"download": "yes"}}, "dataset.download = 'yes'", "true or false"),
        ({"model": {"arch": "resnet"}}, "model.arch = 'resnet'", "'thesis-cnn'"),
        ({"model": {"arch": "custom", "layers": {"h": "1"}}}, "model.factory = ''", "'package.module:factory'"),
        ({"model": {"arch": "custom", "factory": "m:f"}}, "model.layers = {}", "layers to record"),
        (
            {"model": {"arch": "custom", "factory": "m:f", "layers": {"h": "1"}}},
            "model.softmax = 'output'",
            "use '' for none",
        ),
        ({"model": {"factory": "m:f"}}, "model.factory = 'm:f'", "only used with model.arch custom"),
        (
            {"model": {"arch": "custom", "factory": "m:f", "layers": {"input": "0", "output": "1"}}},
            "model.layers names a layer 'input'",
            "rename the layer",
        ),
        ({"model": {"layers": {"h": 3}}}, "model.layers", "entry 'h' = 3 is not a module path"),
        ({"reduce": {"preset": "thesis-9"}}, "reduce.preset = 'thesis-9'", "'thesis-5'"),
        ({"reduce": {"pool": [4, 4]}}, "reduce.pool = [4, 4]", "(channel, height, width) window"),
        ({"reduce": {"method": "median"}}, "reduce.method = 'median'", "'argmax'"),
        (
            {"reduce": {"layers": {"z1": {"pool": [1, 0, 2]}}}},
            "reduce.layers",
            "its pool = [1, 0, 2] is not 'none' or a (channel",
        ),
        ({"reduce": {"layers": {"z1": {"bins": 3}}}}, "reduce.layers", "'bins' is not one (allowed: method, n_bins"),
        (
            {"reduce": {"layers": {"z1": {"q_low": 0.995}}}},
            "reduce.layers.z1: q_low = 0.995 and q_high = 0.99",
            "q_low must be below q_high",
        ),
        ({"dump": {"samples_per_chunk": 0}}, "dump.samples_per_chunk = 0", "integer >= 1"),
        ({"ae": {"source": "torus"}}, "ae.source = 'torus'", "'swissroll'"),
        ({"ae": {"source": "layer"}}, "ae.source = 'layer' needs ae.layer", "hidden3"),
        ({"ae": {"bandwidth": "wide"}}, "ae.bandwidth = 'wide'", "'loo-ml'"),
        (
            {"ae": {"corr_q_low": 0.2, "corr_q_high": 0.1}},
            "ae.corr_q_low = 0.2 and ae.corr_q_high = 0.1",
            "below the high one",
        ),
        ({"estimate": {"dimensions": ["pca"]}}, "estimate.dimensions", "'twonn'"),
        (
            {"neurons": {"bootstrap": {"dataset": "fashion_mnist"}}},
            "neurons.bootstrap.dataset = 'fashion_mnist'",
            "'iris', 'wine', 'digits', 'mnist'",
        ),
        ({"neurons": {"bootstrap": {"init": "random"}}}, "neurons.bootstrap.init = 'random'", "'independent'"),
        ({"neurons": {"compress": {"metrics": ["w1"]}}}, "neurons.compress.metrics", "'w2'"),
        ({"neurons": {"bootstrap": {"replicas": 1}}}, "neurons.bootstrap.replicas = 1", "integer >= 2"),
        # Types: lists where scalars belong, text where numbers belong, bools and floats where integers belong.
        ({"train": {"batch_size": [256]}}, "train.batch_size = [256]", "an integer"),
        ({"train": {"learning_rate": True}}, "train.learning_rate = True", "a number > 0.0"),
        ({"train": {"seed": "0"}}, "train.seed = '0'", "an integer"),
        ({"train": {"epochs": 1000.0}}, "train.epochs = 1000.0", "an integer"),
        ({"train": {"epochs": None}}, "train.epochs = None", "an integer"),
        ({"train": [1, 2]}, "train: expected a mapping of keys", "[1, 2]"),
        ({"dataset": {"test_fraction": "0.2"}}, "dataset.test_fraction = '0.2'", "write 4.0e-4"),
        ({"dataset": {"name": ["tishby12"]}}, "dataset.name = ['tishby12']", "'tishby12'"),
        ({"model": {"widths": [10, "7"]}}, "model.widths = [10, '7']", "item 1 is '7'"),
        ({"model": {"widths": [10, True]}}, "model.widths = [10, True]", "item 1 is True"),
        ({"model": {"kwargs": [1]}}, "model.kwargs = [1]", "a mapping of keyword arguments"),
        ({"reduce": {"n_bins": "30"}}, "reduce.n_bins = '30'", "an integer"),
        ({"reduce": {"threshold": "half"}}, "reduce.threshold = 'half'", "a number"),
        ({"reduce": {"value_range": "full"}}, "reduce.value_range = 'full'", "'data' or a list [low, high]"),
        ({"reduce": {"layers": {"z1": "argmax"}}}, "reduce.layers", "entry 'z1' = 'argmax' is not a mapping"),
        ({"estimate": {"estimators": "plugin"}}, "estimate.estimators = 'plugin'", "a list"),
        ({"estimate": {"window": 2.0}}, "estimate.window = 2.0", "an integer"),
        ({"dump": {"epochs_per_shard": "16"}}, "dump.epochs_per_shard = '16'", "an integer"),
        ({"plot": {"dpi": "high"}}, "plot.dpi = 'high'", "an integer"),
        ({"neurons": []}, "neurons: expected a mapping of sub-sections", "bootstrap, compress, gaussians"),
        # Ranges, NaN and names that differ only in case.
        ({"train": {"learning_rate": -0.1}}, "train.learning_rate = -0.1", "> 0.0 and <= 10.0"),
        ({"train": {"learning_rate": float("nan")}}, "train.learning_rate = nan", "> 0.0 and <= 10.0"),
        ({"train": {"batch_size": 0}}, "train.batch_size = 0", "integer >= 1"),
        ({"dataset": {"test_fraction": 1.0}}, "dataset.test_fraction = 1.0", "<= 0.9"),
        ({"dataset": {"measure_on": "validation"}}, "dataset.measure_on = 'validation'", "'all', 'train', 'test'"),
        ({"model": {"activation": "TANH"}}, "model.activation = 'TANH'", "'tanh'"),
        ({"model": {"widths": []}}, "model.widths = []", "at least 1 item"),
        ({"select": {"factor": 1.0}}, "select.factor = 1.0", "> 1.0"),
        ({"select": {"probe": "kde-upper"}}, "select.probe = 'kde-upper'", "'plugin', 'miller-madow'"),
        ({"reduce": {"value_range": [-1.0, float("nan")]}}, "reduce.value_range = [-1.0, nan]", "low < high"),
        ({"estimate": {"bootstrap_resamples": -1}}, "estimate.bootstrap_resamples = -1", "0 (off) or an integer >= 2"),
        ({"estimate": {"scheduler": "tcp://"}}, "estimate.scheduler = 'tcp://'", "'tcp://host:8786'"),
        # Cross-key conflicts.
        ({"model": {"arch": "thesis-cnn", "widths": [10]}}, "model.widths = [10]", "only used with model.arch mlp"),
        (
            {"select": {"step_bounds": [20, 100], "step_sizes": [1, 5, 20, 100]}},
            "select.step_bounds = [20, 100] and select.step_sizes = [1, 5, 20, 100]",
            "one more size than bounds",
        ),
        (
            {"ae": {"source": "sphere", "intrinsic_dim": 10, "ambient_dim": 10}},
            "ae.intrinsic_dim = 10 and ae.ambient_dim = 10",
            "needs 11 dimensions",
        ),
    ],
)
def test_malformed_params_are_rejected_naming_key_value_and_what_is_allowed(raw, named_key, allowed):
    with pytest.raises(ParamsError) as caught:
        validate_params(raw)
    assert named_key in str(caught.value)
    assert allowed in str(caught.value)


@pytest.mark.parametrize(
    ("text", "named_key", "allowed"),
    [
        ("train:\n  learning_rate: 4e-4\n", "train.learning_rate = '4e-4'", "write 4.0e-4"),
        ("train:\n  epochs: 1e3\n", "train.epochs = '1e3'", "an integer"),
        ("model:\n  widths: 10, 7, 5\n", "model.widths = '10, 7, 5'", "a list"),
        ("dataset:\n  name: no\n", "dataset.name = False", "'tishby12'"),
        ("train:\nepochs: 10\n", "epochs: unknown section", "allowed sections"),
        ("reduce:\n  value_range: -1..1\n", "reduce.value_range = '-1..1'", "'data' or a list"),
        ("estimate:\n  estimators: plugin, knn\n", "estimate.estimators = 'plugin, knn'", "a list"),
    ],
)
def test_yaml_pitfalls_in_the_file_are_rejected_naming_key_value_and_what_is_allowed(
    tmp_path, text, named_key, allowed
):
    params = tmp_path / "params.yaml"
    params.write_text(text)
    with pytest.raises(ParamsError) as caught:
        load_params(params)
    assert named_key in str(caught.value) and allowed in str(caught.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ParamsError) as caught:
        validate_params({"model": {"activation": "x"}, "train": {"epochs": 0}})
    assert "model.activation" in str(caught.value) and "train.epochs" in str(caught.value)


def test_bools_are_not_integers():
    with pytest.raises(ParamsError, match=r"train\.seed = True"):
        validate_params({"train": {"seed": True}})


def test_missing_file_and_broken_yaml_get_clear_errors(tmp_path):
    with pytest.raises(ParamsError, match="no such params file"):
        load_params(tmp_path / "absent.yaml")
    broken = tmp_path / "params.yaml"
    broken.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(broken)


def test_params_json_round_trips_every_section():
    import json

    from ibpipe.config.params import SECTIONS

    assert set(json.loads(validate_params({}).to_json())) == {cls.section for cls in SECTIONS}


def test_reduce_params_become_layer_reductions():
    from ibpipe.infoplane.reduce import LayerReduction, layer_reductions

    params = validate_params(
        {
            "reduce": {
                "method": "quantile",
                "n_bins": 4,
                "pool": [1, 2, 2],
                "preset": "thesis-5",
                "layers": {"output": {"method": "threshold"}},
            }
        }
    )
    resolved = layer_reductions(
        params.reduce.layer_defaults(),
        ["z1", "z2", "output"],
        params.reduce.preset_name,
        params.reduce.layer_overrides(),
    )
    assert resolved["z1"] == LayerReduction("quantile", n_bins=4, pool=(1, 7, 7), pool_kind="avg")
    assert resolved["output"] == LayerReduction("threshold", n_bins=4, pool=(1, 2, 2))
    plain = validate_params({}).reduce
    assert (
        plain.preset_name is None
        and plain.layer_defaults()["pool"] is None
        and plain.layer_defaults()["value_range"] == (-1.0, 1.0)
    )


def test_the_docs_thesis_recipe_sets_valid_params_for_the_thesis_experiment():
    import re

    readme = (PROJECT / "docs/tutorials/mnist-cnn.md").read_text()
    recipe = readme.split("dvc exp run -n thesis-1", 1)[1].split("```", 1)[0]
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    settings = re.findall(r"-S '?([\w.]+)=([^'\s]+)'?", recipe)
    assert len(settings) >= 10
    for dotted, value in settings:
        section, name = dotted.split(".")
        assert name in raw[section], dotted
        raw[section][name] = yaml.safe_load(value)
    params = validate_params(raw)
    assert (params.dataset.name, params.model.arch, params.train.epochs, params.select.method) == (
        "mnist",
        "thesis-cnn",
        10,
        "all",
    )
    assert (params.train.batch_size, params.train.learning_rate, params.reduce.preset) == (100, 2.0e-3, "thesis-1")
    assert params.estimate.estimators == ["plugin", "miller-madow"]


def test_every_param_a_dvc_stage_declares_exists_in_params_yaml():
    pipeline = yaml.safe_load((PROJECT / "dvc.yaml").read_text())
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for name, stage in pipeline["stages"].items():
        for entry in stage.get("params", []):
            section, _, key_name = entry.partition(".")
            assert section in raw and (not key_name or key_name in raw[section]), (
                f"stage {name} declares {entry}, missing from params.yaml"
            )
