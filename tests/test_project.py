"""The repository keeps its promises: clean notebooks, exact stage params and deps, one set of dependencies."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from fernb.workbook import stages as pipeline

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _code(nb_path: Path) -> list[str]:
    nb = nbformat.read(nb_path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name) for p in NOTEBOOKS)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_source_notebook_has_no_outputs(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{nb_path.name}: committed with outputs (executed copies belong in reports/)"
            assert cell.execution_count is None, f"{nb_path.name}: committed with execution counts"


def test_every_notebook_is_a_stage_and_back():
    stems = {p.stem for p in NOTEBOOKS}
    assert set(pipeline.notebook_stages(REPO)) == stems
    for stem in stems:
        assert DVC[stem]["cmd"] == f"fernb run {stem}"


def _parameter_names(nb_path: Path) -> list[str]:
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{nb_path.name}: needs exactly one cell tagged 'parameters' for papermill"
    names = []
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign), f"{nb_path.name}: the parameters cell may only assign values"
        names.extend(t.id for t in node.targets)
    return names


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_parameters_are_exactly_the_declared_keys(nb_path):
    declared = pipeline.stage_parameters(nb_path.stem, REPO)
    assert sorted(_parameter_names(nb_path)) == sorted(declared), (
        "the notebook's parameters cell and the keys dvc.yaml declares for its stage differ: "
        "DVC would miss a change, or papermill would inject a value nobody reads")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_parameter_defaults_match_params_yaml(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    defaults = {}
    exec(cell.source, {}, defaults)  # plain literal assignments (checked above)
    assert defaults == pipeline.stage_parameters(nb_path.stem, REPO)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_read_params_only_through_papermill(nb_path):
    for source in _code(nb_path):
        code = "\n".join(line.split("#")[0] for line in source.splitlines())
        assert "params.yaml" not in code and "dvc.yaml" not in code


def _fernb_imports(source: str, here: str | None = None) -> set[str]:
    """Dotted fernb module names imported by ``source`` (a notebook cell or module)."""
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("fernb")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fernb"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # kept only if a module
    return {m for m in found if _module_file(m) is not None}


def _module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _closure(modules: set[str]) -> set[str]:
    seen, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(2, len(parts)))  # parent packages run too
        todo.extend(_fernb_imports(_module_file(module).read_text()) - seen)
    return seen - {"fernb"}


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_stage_deps_cover_the_code_the_notebook_runs(nb_path):
    deps = [d if isinstance(d, str) else next(iter(d)) for d in DVC[nb_path.stem]["deps"]]
    assert f"notebooks/{nb_path.name}" in deps
    imported = set()
    for source in _code(nb_path):
        imported |= _fernb_imports(source)
    for module in sorted(_closure(imported)):
        rel = _module_file(module).relative_to(REPO).as_posix()
        assert any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps), (
            f"{nb_path.stem} runs {rel} (via {module}) but dvc.yaml does not list it in deps: "
            "a change there would not re-run the stage")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_stage_writes_its_reports(nb_path):
    stage, st = nb_path.stem, DVC[nb_path.stem]
    outs = [o if isinstance(o, str) else next(iter(o)) for o in st.get("outs", [])]
    metrics = [m if isinstance(m, str) else next(iter(m)) for m in st.get("metrics", [])]
    for name in (f"{stage}.ipynb", f"{stage}.html", "summary.json"):
        assert f"reports/{stage}/{name}" in outs
    assert f"reports/{stage}/metrics.json" in metrics
    index_deps = DVC["index"]["deps"]
    assert f"reports/{stage}/summary.json" in index_deps and f"reports/{stage}/{stage}.html" in index_deps


def _requirement_names(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", spec)
        out[match.group(1).lower().replace("_", "-")] = match.group(2).split("#")[0].replace(" ", "")
    return out


def test_environment_yml_matches_pyproject():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pip_specs += extra
    conda = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    conda_specs = [d for d in conda if isinstance(d, str) and not d.startswith(("python", "pip"))]
    aliases = {"opencv": "opencv-python-headless", "pytorch": "torch"}  # conda-forge name -> PyPI name
    conda_named = {aliases.get(k, k): v for k, v in _requirement_names(conda_specs).items()}
    assert conda_named == _requirement_names(pip_specs)
    pip_section = next(d["pip"] for d in conda if isinstance(d, dict))
    assert "-e ." in pip_section and "--no-deps" in pip_section
    assert any(line.startswith("face-alignment") for line in pip_section), "make fan installs face-alignment; conda must too"


def test_ci_calls_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make repro" in readme and "make test" in readme
    assert "make test" in ci
