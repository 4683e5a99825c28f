"""The params schema, reference and checks all come from the declarations: each key once, with its doc."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from ibpipe.cli import app
from ibpipe.config.params import SECTIONS, load_params, params_schema
from ibpipe.config.reference import params_reference
from ibpipe.errors import ParamsError
from ibpipe.schema import raw_section

PROJECT = Path(__file__).resolve().parents[1]


def _schema_from_the_command() -> dict:
    printed = CliRunner().invoke(app, ["params", "--schema"])
    assert printed.exit_code == 0, printed.output
    return json.loads(printed.output)


def test_the_schema_command_validates_the_shipped_params_and_rejects_an_unknown_key():
    schema = _schema_from_the_command()
    jsonschema.Draft202012Validator.check_schema(schema)
    shipped = yaml.safe_load((PROJECT / "params.yaml").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(shipped)) == []
    for place in (("train",), ("neurons", "bootstrap"), ()):
        hostile = json.loads(json.dumps(shipped))
        target = hostile
        for part in place:
            target = target[part]
        target["epoch"] = 10
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(hostile))
        assert [error.validator for error in errors] == ["additionalProperties"], place
    wrong_type = json.loads(json.dumps(shipped))
    wrong_type["estimate"]["noise_variance"] = "1e-3"
    assert not jsonschema.Draft202012Validator(schema).is_valid(wrong_type)


def test_every_object_in_the_schema_refuses_unknown_keys():
    def objects(node):
        if isinstance(node, dict):
            if "properties" in node:
                yield node
            for value in node.values():
                yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    found = list(objects(params_schema()))
    assert len(found) > len(SECTIONS)
    assert all(node.get("additionalProperties") is False for node in found)


def test_the_committed_schema_and_reference_are_what_the_declarations_generate():
    assert json.loads((PROJECT / "params.schema.json").read_text()) == params_schema()
    assert (PROJECT / "docs/reference/params.md").read_text() == params_reference(PROJECT), (
        "run: python -m ibpipe params --reference docs/reference/params.md"
    )
    first_line = (PROJECT / "params.yaml").read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=params.schema.json"


def test_every_declared_key_has_a_one_line_doc():
    undocumented = [
        f"{cls.section}.{name}"
        for cls in SECTIONS
        for name, spec in cls.model_fields.items()
        if not (spec.description or "").strip() or "\n" in spec.description
    ]
    assert undocumented == []


def test_params_yaml_spells_out_exactly_the_declared_keys():
    shipped = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for cls in SECTIONS:
        assert set(raw_section(shipped, cls.section)) == set(cls.model_fields), cls.section


def test_a_key_written_twice_is_refused(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  epochs: 10\n  epochs: 20\n")
    with pytest.raises(ParamsError, match="'epochs' is written twice"):
        load_params(params)


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("trian:\n  epochs: 10\n", "trian: unknown section (did you mean 'train'?)"),
        ("estimate:\n  noise_varience: 0.1\n", "estimate.noise_varience: unknown key (did you mean 'noise_variance'?)"),
        ("neurons:\n  bootstrapp: {}\n", "neurons.bootstrapp: unknown section (did you mean 'bootstrap'?)"),
    ],
)
def test_a_misspelt_name_gets_a_did_you_mean(tmp_path, text, suggestion):
    params = tmp_path / "params.yaml"
    params.write_text(text)
    with pytest.raises(ParamsError) as caught:
        load_params(params)
    assert suggestion in str(caught.value)


def test_the_estimator_settings_are_declared_once_and_the_section_reads_them():
    from ibpipe.config.estimate import EstimateParams
    from ibpipe.estimators.settings import EstimatorSettings

    for name in EstimatorSettings.model_fields:
        assert name not in EstimateParams.__annotations__, name
        assert repr(EstimateParams.model_fields[name]) == repr(EstimatorSettings.model_fields[name])
