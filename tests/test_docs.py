"""The docs cannot rot: every Python snippet of README.md and docs/ runs, the generated reference pages are what
the code generates, every params key, stage and metrics variable has its entry, and the README stays short.

Snippets run page by page, in order, in one namespace per page, inside a scratch project that holds what a
reader's project would: a Recorder store at data/run1, a pipeline-like activations store at
data/activations.zarr, its reports/metrics.nc and metrics.json, and a reports/compare/compare.nc of two
runs (a tiny tanh network, 3 epochs). A snippet that cannot run there is preceded by
``<!-- docs-test: skip: REASON -->``; the reason is required.

The strict site build (``mkdocs build --strict``) is its own line of ``make test``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import OrderedDict
from pathlib import Path

import pytest

from ibpipe.config.params import SECTIONS
from ibpipe.infoplane.compare import Run, compare_dataset
from ibpipe.infoplane.metrics import metrics_summary
from ibpipe.io.files import write_metrics
from ibpipe.reference import (
    REFERENCE_DIR,
    cli_reference,
    example_metrics,
    metrics_reference,
    probe_variables,
    stage_names,
    stages_reference,
)

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SKIP = re.compile(r"<!-- docs-test: skip: (?P<reason>\S.*?) -->\s*$")
README_LIMIT = 12 * 1024  # bytes


def snippets(page: Path) -> list[tuple[int, str, str | None]]:
    """Each ```python block of ``page``: (line, code, skip reason or None)."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        found.append((text.count("\n", 0, match.start()) + 1, match.group(1), skip["reason"] if skip else None))
    return found


PAGES_WITH_SNIPPETS = [page for page in PAGES if snippets(page)]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A scratch project holding what the snippets open, and the names they take as given."""
    import torch
    from torch import nn

    import ibpipe

    folder = tmp_path_factory.mktemp("docs-project")
    torch.manual_seed(0)
    inputs = torch.randn(64, 12)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).long()
    net = nn.Sequential(
        OrderedDict(
            hidden1=nn.Sequential(nn.Linear(12, 6), nn.Tanh()),
            hidden2=nn.Sequential(nn.Linear(6, 4), nn.Tanh()),
            hidden3=nn.Sequential(nn.Linear(4, 3), nn.Tanh()),
            output=nn.Linear(3, 2),
        )
    )
    optimiser = torch.optim.SGD(net.parameters(), lr=0.5)
    with ibpipe.Recorder(net, ["hidden1", "hidden2", "hidden3", "output"], inputs, labels, folder / "pipe") as rec:
        for epoch in range(4):
            if epoch:
                optimiser.zero_grad()
                nn.functional.cross_entropy(net(inputs), labels).backward()
                optimiser.step()
            rec.step(epoch)
    (folder / "data").mkdir()
    (folder / "reports").mkdir()
    shutil.copytree(folder / "pipe" / "activations.zarr", folder / "data" / "activations.zarr")
    shutil.copytree(folder / "pipe", folder / "data" / "run1")
    metrics = ibpipe.measure(folder / "pipe", estimators=["plugin"], scheduler="synchronous")
    metrics.to_netcdf(folder / "reports" / "metrics.nc")
    (folder / "reports" / "metrics.json").write_text(json.dumps(metrics_summary(metrics)))
    runs = [Run(name, metrics, {"model.activation": name}) for name in ("tanh", "relu")]
    (folder / "reports" / "compare").mkdir()
    write_metrics(folder / "reports" / "compare" / "compare.nc", compare_dataset(runs))  # as `ibpipe compare`
    return folder


def _given():
    """The names the Recorder example takes from the reader's own code: a model, probe rows, a training step."""
    import torch
    from torch import nn

    torch.manual_seed(1)
    model = nn.Sequential(
        OrderedDict(
            block1=nn.Sequential(nn.Linear(8, 6), nn.ReLU()),
            block2=nn.Sequential(nn.Linear(6, 4), nn.Tanh()),
            head=nn.Linear(4, 3),
        )
    )
    x_probe, optimiser = torch.randn(48, 8), torch.optim.SGD(model.parameters(), lr=0.1)
    y_probe = torch.randint(0, 3, (48,))

    def train_one_epoch(model):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(x_probe), y_probe)
        loss.backward()
        optimiser.step()
        return loss.item()

    given = {"model": model, "x_probe": x_probe, "y_probe": y_probe, "epochs": 3}
    return {**given, "train_one_epoch": train_one_epoch}


@pytest.mark.parametrize("page", PAGES_WITH_SNIPPETS, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_python_snippet_of_the_page_runs(page, project, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workspace = tmp_path / "project"
    shutil.copytree(project, workspace)
    monkeypatch.chdir(workspace)
    namespace = {"__name__": "__docs__", **_given()}
    ran = 0
    for line, code, skip in snippets(page):
        if skip:
            continue
        try:
            exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
        except Exception as error:  # the page and line are what the reader needs
            pytest.fail(f"{page.relative_to(ROOT)}, the snippet at line {line} fails: {type(error).__name__}: {error}")
        finally:
            plt.close("all")
        ran += 1
    assert ran or all(skip for _, _, skip in snippets(page))


def test_a_skipped_snippet_names_its_reason_and_skips_are_few():
    markers = [
        (page, line)
        for page in PAGES
        for line in page.read_text().splitlines()
        if "docs-test:" in line and not SKIP.search(line)
    ]
    assert markers == [], "write skips as <!-- docs-test: skip: REASON -->"
    every = [skip for page in PAGES for _, _, skip in snippets(page)]
    assert every and sum(skip is not None for skip in every) <= len(every) // 2


def test_the_snippet_scanner_finds_blocks_and_their_skip_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```python\nx = 1\n```\n\n<!-- docs-test: skip: needs a GPU -->\n```python\ny = 2\n```\n"
        "\n```bash\nls\n```\n"
    )
    assert snippets(page) == [(3, "x = 1\n", None), (8, "y = 2\n", "needs a GPU")]


# --- the reference pages --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def metrics():
    return example_metrics()


def _committed(name: str) -> str:
    return (ROOT / REFERENCE_DIR / name).read_text()


def test_the_committed_reference_pages_are_what_the_code_generates(metrics):
    for name, text in (
        ("stages.md", stages_reference()),
        ("metrics.md", metrics_reference(metrics)),
        ("cli.md", cli_reference()),
    ):
        assert _committed(name) == text, f"docs/reference/{name} is stale: run python -m ibpipe.reference"


def test_every_stage_has_a_reference_entry():
    page = _committed("stages.md")
    missing = [name for name in stage_names() if f"## `{name}`" not in page]
    assert stage_names() and missing == []


def test_every_params_key_has_a_reference_entry():
    page = _committed("params.md")
    missing = [
        f"{cls.section}.{key}"
        for cls in SECTIONS
        for key in cls.model_fields
        if f"## `{cls.section}`" not in page or f"| `{key}` |" not in page.split(f"## `{cls.section}`", 1)[1]
    ]
    assert missing == []


def test_every_metrics_variable_has_a_reference_entry_with_its_dims_and_units(metrics):
    page = _committed("metrics.md")
    missing = []
    for name, variable in metrics.variables.items():
        row = f"| `{name}` | `({', '.join(variable.dims)})` | {variable.attrs.get('units', '')} |"
        if row not in page:
            missing.append(name)
    missing += [name for name in probe_variables() if f"| `{name}` |" not in page]
    assert {"I_XT", "I_TY", "H_T", "final_to_peak"} <= set(metrics.data_vars) and missing == []


def test_every_page_under_docs_is_in_the_site_navigation():
    import yaml

    def paths(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from paths(value)
        elif isinstance(node, list):
            for value in node:
                yield from paths(value)

    nav = set(paths(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]))
    pages = {page.relative_to(ROOT / "docs").as_posix() for page in (ROOT / "docs").rglob("*.md")}
    assert pages - nav == set() and nav - pages == set()


# --- the README -----------------------------------------------------------------------------------


def test_the_readme_is_short_and_keeps_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= README_LIMIT
    commands = [line.split("#")[0].strip() for line in readme.splitlines() if line.startswith("make ")]
    assert commands[:2] == ["make repro", "make test"]
    for heading in ("## Measure your own model", "## A five-minute tour", "## Citation", "## Licence"):
        assert heading in readme


def test_the_readme_links_only_to_files_that_exist():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)", readme)
    local = [target for target in targets if "://" not in target]
    assert local and [target for target in local if not (ROOT / target).exists()] == []
