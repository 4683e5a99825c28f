"""dvc.yaml cannot lie: it is what `python -m ibpipe stages --write` writes, each stage declaring exactly
the code its process can import and the params it loads."""

import ast
import copy
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ibpipe.cli import app
from ibpipe.config.params import SECTIONS
from ibpipe.pipeline import STAGES
from ibpipe.pipeline_file import (
    IGNORED_FOLDERS,
    code_dependencies,
    compress,
    declared_code,
    difference,
    document,
    plain,
    read_pipeline,
    render,
    stage_script,
)

PROJECT = Path(__file__).resolve().parents[1]
PIPELINE = read_pipeline(PROJECT)
SECTION_OF_CLASS = {cls.__name__: cls.section for cls in SECTIONS}


def test_dvc_yaml_is_what_stages_write_writes():
    changes = "\n".join(difference(PROJECT))
    assert not changes, f"dvc.yaml is out of date: run `python -m ibpipe stages --write`\n{changes}"


def test_the_written_text_reads_back_as_the_declared_pipeline():
    assert yaml.safe_load(render(PROJECT)) == plain(document(PROJECT))
    assert list(PIPELINE) == [stage.name for stage in STAGES]


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
    code = [dep for dep in stage["deps"] if dep.startswith("ibpipe/")]
    assert code
    for dep in code:
        pruned = copy.deepcopy(stage)
        pruned["deps"].remove(dep)
        assert _mismatch(pruned)[0] == declared_code({"deps": [dep]}, PROJECT)


def _copy_project(root: Path) -> Path:
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(PROJECT / name, root / name)
    for folder in ("ibpipe", "stages"):
        shutil.copytree(PROJECT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_a_new_import_in_a_stage_script_fails_the_check_until_written(tmp_path):
    root = _copy_project(tmp_path)
    assert difference(root) == []
    assert "ibpipe/cli.py" not in code_dependencies("stages/plot_ae.py", root)
    script = root / "stages" / "plot_ae.py"
    script.write_text(script.read_text() + "\n\ndef _later():\n    import ibpipe.cli  # noqa: F401\n")
    assert "+      - ibpipe/cli.py" in difference(root)
    written = yaml.safe_load(render(root))["stages"]["plot-ae"]
    assert "ibpipe/cli.py" in declared_code(written, root)


def test_the_cli_checks_and_writes_dvc_yaml(tmp_path, monkeypatch):
    root = _copy_project(tmp_path)
    monkeypatch.chdir(root)
    runner = CliRunner()
    assert runner.invoke(app, ["stages", "--check"]).exit_code == 0
    pipeline = root / "dvc.yaml"
    pipeline.write_text(pipeline.read_text().replace("      - ibpipe/errors.py\n", "", 1))
    stale = runner.invoke(app, ["stages", "--check"])
    assert stale.exit_code == 1 and "+      - ibpipe/errors.py" in stale.output
    assert runner.invoke(app, ["stages", "--write"]).output == "dvc.yaml written\n"
    assert runner.invoke(app, ["stages", "--write"]).output == "dvc.yaml already up to date\n"
    assert pipeline.read_text() == (PROJECT / "dvc.yaml").read_text()


def _package(root: Path, *files: str) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    return root


def test_a_folder_dep_stands_only_for_a_folder_wholly_imported(tmp_path):
    root = _package(tmp_path, "ibpipe/__init__.py", "ibpipe/a.py", "ibpipe/b.py", "ibpipe/sub/__init__.py")
    _package(root, "ibpipe/sub/c.py", "ibpipe/sub/__pycache__/c.cpython-311.pyc")
    imported = {"ibpipe/__init__.py", "ibpipe/a.py", "ibpipe/sub/__init__.py", "ibpipe/sub/c.py"}
    assert compress(imported, root) == ["ibpipe/__init__.py", "ibpipe/a.py", "ibpipe/sub"]
    assert compress(imported | {"ibpipe/b.py"}, root) == ["ibpipe"]
    _package(root, "ibpipe/sub/table.csv")  # DVC would hash it: the folder no longer stands for its modules
    assert compress(imported, root) == [
        "ibpipe/__init__.py",
        "ibpipe/a.py",
        "ibpipe/sub/__init__.py",
        "ibpipe/sub/c.py",
    ]


def test_folder_deps_hash_only_the_source_files_they_stand_for():
    from dvc.repo import Repo

    ignore = Repo(str(PROJECT)).dvcignore
    for folder in IGNORED_FOLDERS:
        assert ignore.is_ignored_dir(str(PROJECT / "ibpipe" / "io" / folder)), f".dvcignore must name {folder}/"
    folders = {dep for stage in PIPELINE.values() for dep in stage["deps"] if dep.startswith("ibpipe")}
    folders = {dep for dep in folders if (PROJECT / dep).is_dir()}
    assert folders, "no folder deps: this check no longer checks anything"
    for folder in folders:
        hashed = [
            path for path in (PROJECT / folder).rglob("*") if path.is_file() and not ignore.is_ignored_file(str(path))
        ]
        assert all(path.suffix == ".py" for path in hashed), f"{folder} holds files DVC hashes that are not code"


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
    monkeypatch.chdir(PROJECT)
    listed = CliRunner().invoke(app, ["stages"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == list(PIPELINE)
    derived = CliRunner().invoke(app, ["stages", "--deps"])
    assert "estimate:" in derived.output and "  ibpipe/estimators/kde.py" in derived.output
    assert "<- missing" not in derived.output and "<- listed" not in derived.output
    unknown = CliRunner().invoke(app, ["run", "compres"])
    assert unknown.exit_code == 2 and "compress" in unknown.output
