"""dvc.yaml cannot lie: each stage declares exactly the code its process can import and the params it loads."""

import ast
import copy
from pathlib import Path

import pytest
import yaml

from ibpipe.config.params import SECTIONS
from ibpipe.pipeline import code_dependencies, declared_code, read_pipeline, stage_script

PROJECT = Path(__file__).resolve().parents[1]
PIPELINE = read_pipeline(PROJECT)
SECTION_OF_CLASS = {cls.__name__: cls.section for cls in SECTIONS}


def _mismatch(stage: dict) -> tuple[set[str], set[str]]:
    """(imported but not declared, declared but never imported) code files of a stage."""
    imported = code_dependencies(stage_script(stage), PROJECT)
    declared = declared_code(stage, PROJECT)
    return imported - declared, declared - imported


@pytest.mark.parametrize("name", list(PIPELINE))
def test_each_stage_declares_exactly_the_code_it_imports(name):
    undeclared, unused = _mismatch(PIPELINE[name])
    assert not undeclared, f"stage {name} imports {sorted(undeclared)} but dvc.yaml does not list them in deps"
    assert not unused, f"stage {name} lists {sorted(unused)} in deps but never imports them"


def test_removing_any_one_code_dep_is_caught():
    stage = PIPELINE["estimate"]
    for dep in [d for d in stage["deps"] if d.endswith(".py")]:
        pruned = copy.deepcopy(stage)
        pruned["deps"].remove(dep)
        assert _mismatch(pruned)[0] == {dep}


def test_lazy_imports_inside_functions_count(tmp_path):
    (tmp_path / "ibpipe").mkdir()
    (tmp_path / "ibpipe" / "__init__.py").write_text("")
    (tmp_path / "ibpipe" / "late.py").write_text("X = 1\n")
    (tmp_path / "script.py").write_text("def main():\n    from ibpipe.late import X\n    return X\n")
    assert code_dependencies("script.py", tmp_path) == {"script.py", "ibpipe/__init__.py", "ibpipe/late.py"}


def _loaded_sections(script: str) -> set[str]:
    """Params sections a stage script validates with load_sections(params_file, SomeParams, ...)."""
    tree = ast.parse((PROJECT / script).read_text())
    return {
        SECTION_OF_CLASS[argument.id]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_sections"
        for argument in node.args[1:]
    }


@pytest.mark.parametrize("name", list(PIPELINE))
def test_each_stage_lists_params_only_from_the_sections_it_loads(name):
    stage = PIPELINE[name]
    loaded = _loaded_sections(stage_script(stage))
    listed = stage.get("params", [])
    outside = [
        key for key in listed if not any(key == s or key.startswith(s + ".") or s.startswith(key + ".") for s in loaded)
    ]
    assert not outside, f"stage {name} lists params {outside} from sections it never loads ({sorted(loaded)})"
    unlisted = [
        s for s in loaded if not any(key == s or key.startswith(s + ".") or s.startswith(key + ".") for key in listed)
    ]
    assert not unlisted, f"stage {name} loads sections {unlisted} that dvc.yaml does not list as params"


def test_every_declared_param_exists_in_params_yaml():
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for name, stage in PIPELINE.items():
        for key in stage.get("params", []):
            node = params
            for part in key.split("."):
                assert isinstance(node, dict) and part in node, f"stage {name}: params key {key} is not in params.yaml"
                node = node[part]


def test_the_cli_lists_the_stages_of_dvc_yaml_and_their_code(monkeypatch):
    from typer.testing import CliRunner

    from ibpipe.cli import app

    monkeypatch.chdir(PROJECT)
    listed = CliRunner().invoke(app, ["stages"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == list(PIPELINE)
    derived = CliRunner().invoke(app, ["stages", "--deps"])
    assert "estimate:" in derived.output and "  ibpipe/estimators/kde.py" in derived.output
    unknown = CliRunner().invoke(app, ["run", "compres"])
    assert unknown.exit_code == 2 and "compress" in unknown.output
