"""The repository keeps its promises: clean notebooks, exact stage params and deps, one set of dependencies."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from fernb.workbook import stages

from conftest import BIN, REPO

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
    assert set(stages.notebook_stages(REPO)) == stems
    for run in stages.notebook_runs(REPO):
        assert stages.expanded_stages(REPO)[run]["cmd"] == f"fernb run {run}"


def _parameter_names(nb_path: Path) -> list[str]:
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{nb_path.name}: needs exactly one cell tagged 'parameters' for papermill"
    names = []
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign), f"{nb_path.name}: the parameters cell may only assign values"
        names.extend(t.id for t in node.targets)
    return names


def _runs_of(nb_path: Path) -> list[str]:
    """The stages that execute this notebook (several for a ``foreach`` stage)."""
    return [r for r in stages.notebook_runs(REPO) if stages.notebook_of(r) == nb_path.stem]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_parameters_are_exactly_the_declared_keys(nb_path):
    for run in _runs_of(nb_path):
        declared = stages.stage_parameters(run, REPO)
        assert sorted(_parameter_names(nb_path)) == sorted(declared), (
            f"{run}: the notebook's parameters cell and the entries dvc.yaml declares for its stage differ: "
            "DVC would miss a change, or papermill would inject a value nobody reads")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_parameter_defaults_match_params_yaml(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    defaults = {}
    exec(cell.source, {}, defaults)  # plain literal assignments (checked above)
    run = _runs_of(nb_path)[0]       # a foreach stage's first item is the cell's default
    assert defaults == stages.stage_parameters(run, REPO)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_read_params_only_through_papermill(nb_path):
    for source in _code(nb_path):
        code = "\n".join(line.split("#")[0] for line in source.splitlines())
        assert "params.yaml" not in code and "dvc.yaml" not in code


# ----------------------------------------------------------------- the package's import graph
def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _fernb_imports(source: str, here: str | None = None, is_package: bool = False,
                   top_level_only: bool = False) -> set[str]:
    """Dotted fernb module names that ``source`` imports: absolute and relative imports, at
    module level and inside functions (``top_level_only`` keeps the module-level ones).
    ``here`` is the importing module's name, for relative imports."""
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("fernb")}
        elif isinstance(node, ast.ImportFrom):
            module = node.module
            if node.level:
                assert here is not None, "a relative import outside the package"
                base = here.split(".") if is_package else here.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            if module and module.startswith("fernb"):
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names}  # kept only if a module
    return {m for m in found if _module_file(m) is not None}


def _imports_of(module: str, top_level_only: bool = False) -> set[str]:
    path = _module_file(module)
    found = _fernb_imports(path.read_text(), module, path.name == "__init__.py", top_level_only)
    if module == "fernb.data":
        # fernb.data.load imports each real dataset's loader by name (fernb.data.LOADERS), so
        # that loading SynthFER needs none of them; they are part of what it runs
        import fernb.data

        found |= {f"fernb.data.{name}" for name, _ in fernb.data.LOADERS.values()}
    return found


def _closure(modules: set[str]) -> set[str]:
    seen, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(2, len(parts)))  # parent packages run too
        todo.extend(_imports_of(module) - seen)
    return seen - {"fernb"}   # fernb/__init__.py holds the docstring and version only


PACKAGE = sorted(_module_name(p) for p in (REPO / "fernb").rglob("*.py"))


def _graph() -> dict[str, set[str]]:
    """Module → the fernb modules it imports (parent packages of an import count: importing
    ``a.b.c`` runs ``a.b``), self-loops of a package's own children left out."""
    graph = {}
    for module in PACKAGE:
        edges = set()
        for target in _imports_of(module):
            parts = target.split(".")
            edges |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
        graph[module] = {e for e in edges if e != module and not module.startswith(e + ".") and e in PACKAGE}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_circles():
    """Module level and inside functions, absolute and relative imports alike."""
    assert _cycles(_graph()) == []


def test_the_graph_sees_relative_and_function_level_imports(tmp_path):
    assert _fernb_imports("from .hafem import HAFEM", "fernb.models", is_package=True) == {"fernb.models.hafem"}
    assert _fernb_imports("from ..runs import RunResult", "fernb.train.loop") == {"fernb.runs"}
    assert _fernb_imports("def f():\n    from fernb.machine import environment\n") == {"fernb.machine"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_phases_import_one_way():
    """Everything after training reads finished runs (fernb.runs), never the trainer; the
    papers' claims and the face pipeline stand alone."""
    graph = _graph()
    for module, edges in graph.items():
        phase = module.split(".")[1] if module.count(".") else ""
        if phase in ("evaluate", "realtime", "workbook"):
            assert not {e for e in edges if e.startswith("fernb.train")}, f"{module} imports the trainer: {edges}"
        if phase == "faces":
            assert not {e for e in edges if e.startswith("fernb.data")}, f"{module} imports fernb.data: {edges}"
        if phase == "papers":
            assert all(e.startswith("fernb.papers") for e in edges), f"{module} imports {edges}"


def test_the_top_level_holds_few_modules_and_every_folder_is_a_phase():
    top = sorted(p.name for p in (REPO / "fernb").glob("*.py"))
    assert len(top) <= 9, top   # at most 8 modules beside __init__.py
    folders = sorted(p.name for p in (REPO / "fernb").iterdir() if (p / "__init__.py").is_file())
    assert folders == ["data", "evaluate", "faces", "models", "papers", "realtime", "train", "workbook"]


def test_one_object_per_public_name():
    """A public name (a function, class or constant defined at module level) means one thing
    across the package: no two modules define the same name."""
    defined: dict[str, list[str]] = {}
    for module in PACKAGE:
        tree = ast.parse(_module_file(module).read_text())
        for node in tree.body:
            names = []
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for name in names:
                if not name.startswith("_") and name != "main":
                    defined.setdefault(name, []).append(module)
    clashes = {n: m for n, m in defined.items() if len(m) > 1}
    assert clashes == {}, clashes


def test_no_deferred_import_without_a_reason():
    """A function-level import of a fernb module exists only to dodge a circle; none may
    remain. (Deferred imports of heavy third-party libraries are fine.)"""
    offenders = []
    for module in PACKAGE:
        everywhere = _imports_of(module)
        top = _imports_of(module, top_level_only=True)
        if module == "fernb.cli":   # the command line defers its subcommands' imports so that --help is instant
            continue
        if everywhere - top - ({f"fernb.data.{n}" for n, _ in __import__("fernb.data").data.LOADERS.values()}
                                if module == "fernb.data" else set()):
            offenders.append((module, sorted(everywhere - top)))
    assert offenders == []


def _declared_code(stage: dict) -> set[str]:
    """The fernb module files a stage's deps cover (a folder covers every module in it)."""
    covered = set()
    for dep in stage["deps"]:
        dep = dep if isinstance(dep, str) else next(iter(dep))
        path = REPO / dep
        if not dep.startswith("fernb"):
            continue
        covered |= {p.relative_to(REPO).as_posix() for p in path.rglob("*.py")} if path.is_dir() else {dep}
    return covered


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_stage_deps_are_exactly_the_code_the_notebook_runs(nb_path):
    imported = set()
    for source in _code(nb_path):
        imported |= _fernb_imports(source)
    runs = {_module_file(m).relative_to(REPO).as_posix() for m in _closure(imported)}
    for run in _runs_of(nb_path):
        stage = stages.expanded_stages(REPO)[run]
        deps = [d if isinstance(d, str) else next(iter(d)) for d in stage["deps"]]
        assert f"notebooks/{nb_path.name}" in deps
        assert len(deps) == len(set(deps)), f"{run}: dvc.yaml lists a dep twice"
        declared = _declared_code(stage)
        listing = "\n".join(f"      - {f}" for f in sorted(runs))
        assert declared == runs, (
            f"{run}: dvc.yaml's code deps differ from what the notebook's imports reach.\n"
            f"missing (a change there would not re-run the stage): {sorted(runs - declared)}\n"
            f"extra (a change there re-runs it for nothing): {sorted(declared - runs)}\n"
            f"the list to use:\n{listing}")


@pytest.mark.parametrize("datasets", [["synthfer"], ["synthfer", "fer2013", "kdef"]])
def test_our_stage_expansion_is_dvcs(tmp_path, datasets):
    """fernb expands foreach stages itself (so that `fernb params` answers without loading DVC);
    DVC's own resolver must give the same stage names, commands, deps, params and outputs."""
    import shutil

    from dvc.repo import Repo

    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["datasets"] = datasets
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    Repo.init(str(tmp_path), no_scm=True)
    ours = stages.expanded_stages(tmp_path)
    theirs = {s.name: s for s in Repo(str(tmp_path)).index.stages}
    assert set(ours) == set(theirs)
    assert [n for n in ours if n.startswith("00_data_prep")] == [f"00_data_prep@{d}" for d in datasets]
    assert ours["00_shifts"]["cmd"] == "fernb shifts"   # SynthFER's shifts: one stage whatever `datasets` holds
    def _paths(entries):
        return sorted(e if isinstance(e, str) else next(iter(e)) for e in entries or [])
    for name, st in ours.items():
        dvc_stage = theirs[name]
        assert st["cmd"] == dvc_stage.cmd
        assert sorted(str(o.def_path) for o in dvc_stage.outs) == sorted(
            _paths(st.get("outs")) + _paths(st.get("metrics")) + _paths(st.get("plots")))
        code = [d for d in _paths(st.get("deps")) if "${" not in d]
        assert set(code) <= {str(d.def_path) for d in dvc_stage.deps}


def test_stage_07_does_not_depend_on_the_trainer():
    deps = [d if isinstance(d, str) else next(iter(d)) for d in DVC["07_fps"]["deps"]]
    assert not [d for d in deps if d.startswith("fernb/train")]
    assert "runs/01_hafem" in deps and "runs/02_lanmsff" in deps


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_stage_writes_its_reports(nb_path):
    notebook = nb_path.stem
    index_deps = DVC["index"]["deps"]
    for run in _runs_of(nb_path):
        st = stages.expanded_stages(REPO)[run]
        folder = stages.reports_dir(run, REPO).relative_to(REPO).as_posix()
        outs = [o if isinstance(o, str) else next(iter(o)) for o in st.get("outs", [])]
        metrics = [m if isinstance(m, str) else next(iter(m)) for m in st.get("metrics", [])]
        for name in (f"{notebook}.ipynb", f"{notebook}.html", "summary.json"):
            assert f"{folder}/{name}" in outs
        assert f"{folder}/metrics.json" in metrics
        assert any(f"{folder}/summary.json".startswith(d.rstrip("/") + "/") or f"{folder}/summary.json" == d
                   for d in index_deps), f"the index does not depend on {folder}/summary.json"


def test_a_stage_can_declare_both_models_sections(tmp_path):
    """Stages 03, 04 and 06 read hafem and lanmsff together: with this project's params.yaml,
    both arrive whole, their shared leaf names (epochs, lr, seeds...) side by side."""
    import shutil

    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"03_both": {
        "cmd": "fernb run 03_both", "params": ["data.dataset", "hafem", "lanmsff", "train"]}}}))
    params = stages.stage_parameters("03_both", tmp_path)
    real = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params == {"dataset": real["data"]["dataset"], "hafem": real["hafem"], "lanmsff": real["lanmsff"],
                      "train": real["train"]}
    assert {"epochs", "lr", "seeds", "batch_size"} <= set(params["hafem"]) & set(params["lanmsff"])


def test_default_pipeline_prepares_synthfer_and_trains_on_a_prepared_dataset():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["datasets"] == ["synthfer"]
    assert params["data"]["dataset"] in params["datasets"]
    assert [r for r in stages.notebook_runs(REPO) if r.startswith("00_")] == ["00_data_prep@synthfer"]


def _requirement_names(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)", spec)   # extras ([binary]) are pip's
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


# ----------------------------------------------------------------- the README as a front page, docs/ for the rest
DOC_PAGES = sorted((REPO / "docs").glob("*.md"))
FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1", re.S | re.M)   # fenced code blocks: no links, no headings
LINK = re.compile(r"!?\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")


def test_readme_is_one_screen_with_the_results_table_on_it():
    """Issue 36: README.md is a front page (at most 15 KB and 160 lines) whose generated results table
    sits on the first screen; everything else lives in docs/."""
    from fernb.workbook.results_table import TABLE_BEGIN, TABLE_END
    readme = REPO / "README.md"
    lines = readme.read_text().splitlines()
    assert readme.stat().st_size <= 15_000, f"README.md is {readme.stat().st_size} bytes: move detail to docs/"
    assert len(lines) <= 160, f"README.md has {len(lines)} lines: move detail to docs/"
    first_screen = "\n".join(lines[:45])
    assert TABLE_BEGIN in first_screen and TABLE_END in first_screen, "the results table is not on README.md's first screen"


def test_docs_pages_have_one_title_and_an_entry_in_the_index():
    assert DOC_PAGES and (REPO / "docs" / "index.md") in DOC_PAGES
    index = (REPO / "docs" / "index.md").read_text()
    for page in DOC_PAGES:
        titles = [line for line in FENCE.sub("", page.read_text()).splitlines() if line.startswith("# ")]
        assert len(titles) == 1, f"{page.name}: {len(titles)} H1 headings"
        assert page.name == "index.md" or f"]({page.name})" in index, f"docs/index.md does not link {page.name}"


@pytest.mark.parametrize("page", [REPO / "README.md", *DOC_PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_to_a_file(page):
    """Every relative link in README.md and docs/*.md names a file of the repository (anchors ignored)."""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if target.startswith("#") or re.match(r"[a-z][a-z0-9+.-]*:", target):   # an anchor, https:, mailto:
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.is_file() or REPO.resolve() not in path.parents:
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: links to nothing: {broken}"


def test_run_folders_persist_and_are_not_cached_so_dvc_exp_run_resumes():
    """`dvc exp run` (make real, make paper) checks every cached output out of dvc.lock with force
    before it runs; a run folder it cached would be replaced by the lock's version, losing an
    interrupted run's checkpoints. Every persistent output must therefore be uncached."""
    import yaml

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    persistent = {}
    for stage in stages.values():
        for out in (stage.get("do", stage)).get("outs", []):
            if isinstance(out, dict):
                (path, opts), = out.items()
                if opts.get("persist"):
                    persistent[path] = opts.get("cache", True)
    assert set(persistent) >= {"runs/01_hafem", "runs/02_lanmsff", "runs/03_ablations", "runs/04_cross_dataset"}
    assert not any(persistent.values()), persistent


# ----------------------------------------------------------------- a house a newcomer can read
def _code_cell_lengths(nb_path: Path) -> list[int]:
    """Lines of each code cell outside the parameters cell (leading and trailing blank lines stripped)."""
    nb = nbformat.read(nb_path, as_version=4)
    return [len(c.source.strip("\n").splitlines()) for c in nb.cells
            if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_narrative_over_short_cells(nb_path):
    """Loops, try blocks and sentence building live in tested fernb functions; a notebook's code cells
    are calls and displays: none over 20 lines, 12 on average (STYLE.md, "Habits")."""
    lengths = _code_cell_lengths(nb_path)
    assert max(lengths) <= 20, f"{nb_path.name}: a code cell of {max(lengths)} lines (cells: {lengths})"
    assert sum(lengths) / len(lengths) <= 12, f"{nb_path.name}: {sum(lengths) / len(lengths):.1f} lines per code cell"


def test_no_module_over_700_lines_and_no_function_over_120():
    long_modules, long_functions = [], []
    for path in sorted((REPO / "fernb").rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 700:
            long_modules.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 120:
                long_functions.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: "
                                      f"{node.end_lineno - node.lineno + 1} lines")
    assert not long_modules and not long_functions, long_modules + long_functions


def test_notebooks_parameters_cells_and_paired_text_are_in_step():
    """`fernb notebooks --check`: each parameters cell is what params.yaml gives, each notebook's paired
    .py (jupytext percent format, what a review reads) holds its cells. `fernb notebooks` fixes both."""
    from fernb.workbook.notebooks import sync_notebooks

    assert sync_notebooks(REPO, check=True) == []


def test_no_module_or_folder_name_means_two_things():
    """A name says one thing across the package: no module shares its name with a folder (phase) or with
    a module of another phase, except a paper's name (models/hafem.py is the network, papers/hafem.py
    what the paper states) and a package's __init__."""
    names: dict[str, list[str]] = {}
    for path in (REPO / "fernb").rglob("*.py"):
        if path.stem not in ("__init__", "__main__"):
            names.setdefault(path.stem, []).append(str(path.relative_to(REPO)))
    folders = {p.name for p in (REPO / "fernb").iterdir() if p.is_dir() and p.name != "__pycache__"}
    clashes = {n: paths for n, paths in names.items() if (len(paths) > 1 or n in folders) and n not in ("hafem", "lanmsff")}
    assert not clashes, clashes


def test_ruff_finds_nothing():
    """The linter configured in pyproject.toml ([tool.ruff]) is clean: `make lint` shows the findings."""
    done = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "fernb", "tests", "benchmarks", "notebooks"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
