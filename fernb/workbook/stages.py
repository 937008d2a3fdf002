"""Run numbered notebooks as DVC stages: papermill in, executed notebook + HTML out.

A stage named ``NN_name`` executes ``notebooks/NN_name.ipynb`` and writes
``reports/NN_name/NN_name.{ipynb,html}``. A stage that DVC repeats over a list
(``foreach``, e.g. stage 00 over ``datasets``) expands into ``NN_name@<item>``, one per
item, each writing ``reports/NN_name/<item>/``; its ``meta: {item: NAME}`` says under
which parameter name the notebook receives the item (stage 00: ``dataset``).

The notebook's parameters are exactly what ``dvc.yaml`` declares under the stage's
``params:``, read from ``params.yaml`` and injected by papermill, **one parameter per
declared entry, named by its last part**: a key (``data.dataset``) arrives as its value
(``dataset = "synthfer"``), a whole section (``hafem``) as one dict (``hafem = {...}``), so
two sections sharing leaf names (``hafem.epochs``, ``lanmsff.epochs``) coexist. Because the
declared entries are the only values a notebook receives, DVC's dependency tracking is
exact: change a key and only the stages that declare it re-run.
"""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import yaml

from fernb.paths import project_root, reports_dir
from fernb.workbook.params_schema import ParamsError, validate_params
from fernb.workbook.report import dotted_get

RUN_COMMAND = "fernb run"
_REFERENCE = re.compile(r"\$\{\s*([A-Za-z0-9_.]+)\s*\}")


class StageError(RuntimeError):
    """A stage could not be run or its notebook failed."""


def _load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise StageError(f"{path} not found (expected the project's {path.name})")
    with path.open() as fh:
        return yaml.safe_load(fh) or {}


def stages(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """All stages of ``dvc.yaml`` by name, as written (``foreach`` stages unexpanded)."""
    root = Path(root) if root else project_root()
    return _load_yaml(root / "dvc.yaml").get("stages", {})


def _substitute(value: Any, names: dict[str, Any]) -> Any:
    """``${item}``-style references to ``names`` replaced inside ``value`` (others left to DVC)."""
    if isinstance(value, dict):
        return {_substitute(k, names): _substitute(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, names) for v in value]
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value.strip())
        if whole and whole.group(1) in names:
            return names[whole.group(1)]
        return _REFERENCE.sub(lambda m: str(names[m.group(1)]) if m.group(1) in names else m.group(0), value)
    return value


def _foreach_items(spec: Any, stage: str, root: Path) -> dict[str, Any]:
    """``foreach`` as ``{key: item}``: a list's items are their own keys; ``${name}`` is read
    from ``params.yaml``."""
    if isinstance(spec, str):
        ref = _REFERENCE.fullmatch(spec.strip())
        if not ref:
            raise StageError(f"stage {stage}: foreach {spec!r} is neither a list nor a ${{params.yaml key}}")
        try:
            spec = dotted_get(_load_yaml(root / "params.yaml"), ref.group(1))
        except KeyError:
            raise StageError(f"stage {stage}: foreach names {ref.group(1)!r}, which {root / 'params.yaml'} lacks") from None
    if isinstance(spec, dict):
        return {str(k): v for k, v in spec.items()}
    if isinstance(spec, list) and spec:
        return {str(v): v for v in spec}
    raise StageError(f"stage {stage}: foreach must give a non-empty list or mapping, got {spec!r}")


def expanded_stages(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every stage as DVC runs it: a ``foreach`` stage ``S`` becomes ``S@<key>`` per item, its
    ``do`` block with ``${item}`` and ``${key}`` filled in (and ``_group`` / ``_item`` set)."""
    root = Path(root) if root else project_root()
    out: dict[str, dict] = {}
    for name, st in stages(root).items():
        if "foreach" not in st:
            out[name] = st
            continue
        for key, item in _foreach_items(st["foreach"], name, root).items():
            definition = _substitute(copy.deepcopy(st["do"]), {"item": item, "key": key})
            out[f"{name}@{key}"] = {**definition, "_group": name, "_item": item}
    return out


def notebook_of(stage: str) -> str:
    """The notebook a stage runs: ``00_data_prep@fer2013`` → ``00_data_prep``."""
    return stage.split("@", 1)[0]


def _runs_notebook(st: dict) -> bool:
    return str(st.get("cmd", "")).startswith(RUN_COMMAND)


def notebook_stages(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the stages that run a notebook, in ``dvc.yaml`` order, as written
    (``00_data_prep``, not its expansions: one per notebook)."""
    return [name for name, st in stages(root).items() if _runs_notebook(st.get("do", st))]


def notebook_runs(root: str | os.PathLike | None = None) -> list[str]:
    """Every expanded notebook stage, in ``dvc.yaml`` order (``00_data_prep@synthfer``, ``01_hafem``, ...)."""
    return [name for name, st in expanded_stages(root).items() if _runs_notebook(st)]


def _stage(stage: str, root: Path) -> dict:
    all_stages = expanded_stages(root)
    if stage not in all_stages:
        groups = {n for n, st in stages(root).items() if "foreach" in st}
        hint = ""
        if stage in groups:
            hint = f"; {stage} runs once per item: {sorted(n for n in all_stages if notebook_of(n) == stage)}"
        raise StageError(f"no stage {stage!r} in {root / 'dvc.yaml'}{hint}; stages: {sorted(all_stages)}")
    return all_stages[stage]


def declared_keys(stage: str, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The params entries a stage declares in ``dvc.yaml`` (dotted keys or whole sections)
    with their ``params.yaml`` values, in declaration order."""
    root = Path(root) if root else project_root()
    files: dict[str, list[str]] = {}
    for entry in _stage(stage, root).get("params", []) or []:
        if isinstance(entry, str):
            files.setdefault("params.yaml", []).append(entry)
        else:
            for file, keys in entry.items():
                files.setdefault(file, []).extend(keys or [])
    values: dict[str, Any] = {}
    for file, keys in files.items():
        params = _load_yaml(root / file)
        for key in keys:
            try:
                values[key] = copy.deepcopy(dotted_get(params, key))
            except KeyError:
                raise StageError(f"stage {stage} declares param {key!r} but {root / file} has no such key") from None
    return values


def stage_parameters(stage: str, root: str | os.PathLike | None = None,
                     overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Notebook parameters of ``stage``: one per declared entry by its last name (a section
    as a dict), a ``foreach`` item under its ``meta: {item: NAME}``, then ``overrides``.

    Two entries with the same last name are an error (the notebook could not tell them
    apart). An override ``NAME=value`` replaces a parameter; ``SECTION.KEY=value`` (or a
    bare ``KEY`` found in exactly one section) replaces one key inside a section. An
    override for anything the stage does not declare is an error.
    """
    root = Path(root) if root else project_root()
    params: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def add(name: str, value: Any, where: str) -> None:
        if name in origin:
            raise StageError(f"stage {stage}: {origin[name]} and {where} both become notebook parameter {name!r}; "
                             "rename one in params.yaml")
        params[name], origin[name] = value, where

    for key, value in declared_keys(stage, root).items():
        add(key.rsplit(".", 1)[-1], value, f"param {key!r}")
    st = _stage(stage, root)
    if "_item" in st:
        name = (st.get("meta") or {}).get("item")
        if not name:
            raise StageError(f"stage {st['_group']}: a foreach stage needs meta: {{item: NAME}}, the parameter "
                             "its notebook receives the item as")
        add(name, st["_item"], "the foreach item")
    for name, value in (overrides or {}).items():
        _override(stage, params, name, value)
    _validate(stage, root, params, bool(overrides))
    return params


def _validate(stage: str, root: Path, params: dict[str, Any], overridden: bool) -> None:
    """:class:`StageError` with one line per problem when ``params.yaml``, or the stage's parameters
    after its overrides, do not fit the schema (:mod:`fernb.workbook.params_schema`): before any work."""
    tree = _load_yaml(root / "params.yaml")
    try:
        validate_params(tree, "params.yaml")
        if overridden:
            merged = copy.deepcopy(tree)
            for key in declared_keys(stage, root):
                *path, leaf = key.split(".")
                node = merged
                for part in path:
                    node = node[part]
                node[leaf] = params[leaf]
            validate_params(merged, f"stage {stage}, with its overrides")
    except ParamsError as err:
        raise StageError(str(err)) from None


def _override(stage: str, params: dict[str, Any], name: str, value: Any) -> None:
    head, _, rest = name.partition(".")
    if head in params and not rest:
        params[head] = value
        return
    if head in params and isinstance(params[head], dict):
        node, parts = params[head], rest.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                break
            node = node[part]
        else:
            if parts[-1] in node:
                node[parts[-1]] = value
                return
        raise StageError(f"stage {stage}: section {head!r} has no key {rest!r}; it has {sorted(params[head])}")
    if not rest:
        owners = [p for p, v in params.items() if isinstance(v, dict) and name in v]
        if len(owners) == 1:
            params[owners[0]][name] = value
            return
        if len(owners) > 1:
            raise StageError(f"stage {stage}: {name!r} is in several sections ({', '.join(owners)}); "
                             f"say which, e.g. {owners[0]}.{name}=...")
    raise StageError(f"stage {stage} has no parameter {name!r}; it takes {sorted(params)}")


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["n_train=100", "dataset=fer2013"]`` → typed dict (values parsed as YAML)."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise StageError(f"parameter override {pair!r} must look like NAME=VALUE")
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def collapse_carriage_returns(text: str) -> str:
    """What a terminal or Jupyter shows of ``text``: each line's text after its last ``\\r``.

    Progress bars (tqdm) redraw themselves with carriage returns; without this the HTML
    report would list every intermediate state of every bar.
    """
    lines = []
    for line in text.split("\n"):
        parts = [p for p in line.split("\r") if p]
        lines.append(parts[-1] if parts else "")
    return "\n".join(lines)


def coalesce_streams(outputs: list) -> list:
    """Join consecutive outputs of the same stream and collapse carriage returns in them.

    The kernel sends every progress-bar redraw as its own stream message; a Jupyter
    frontend appends them to one area, where each ``\\r`` overwrites the line.
    """
    merged: list = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    for output in merged:
        if output.get("output_type") == "stream":
            output["text"] = collapse_carriage_returns(output["text"])
    return merged


def export_html(notebook: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Export an executed notebook to a standalone HTML file (nbconvert, JupyterLab style)."""
    from nbconvert import HTMLExporter  # deferred: nbconvert's import is slow and only exports need it

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if "outputs" in cell:
            cell["outputs"] = coalesce_streams(cell["outputs"])
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, target)
    return target


def _strip_ansi(text: str) -> str:

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _cell_source(notebook: Path, index: int) -> str:
    """The source of the cell that failed: the code cell holding an error output.

    (Papermill inserts an error banner cell at the top of the executed notebook, so the
    index it reports no longer points at the failing cell there.)
    """

    try:
        cells = nbformat.read(str(notebook), as_version=4).cells
        for cell in cells:
            if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                return cell.source
        return cells[index].source
    except Exception:  # the error report must not fail itself
        return "(cell source unavailable)"


def run_stage(stage: str, root: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None,
              *, log_output: bool = True, kernel_name: str | None = None) -> Path:
    """Execute ``stage``'s notebook with its parameters and export it to HTML
    (``00_data_prep@fer2013`` runs ``notebooks/00_data_prep.ipynb`` into ``reports/00_data_prep/fer2013/``).

    Returns the HTML path. A failing cell raises :class:`StageError` naming the cell and
    the error (the partially executed notebook and its HTML are still written, for
    reading what went wrong).
    """
    import papermill as pm  # deferred: papermill imports nbclient and jupyter, which the index and params need not

    root = Path(root).resolve() if root else project_root()
    notebook = notebook_of(stage)
    source = root / "notebooks" / f"{notebook}.ipynb"
    if not source.is_file():
        raise StageError(f"stage {stage}: notebook {source} not found")
    params = stage_parameters(stage, root, overrides)
    out_dir = reports_dir(stage, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{notebook}.ipynb"
    page = out_dir / f"{notebook}.html"
    os.environ["FERNB_ROOT"] = str(root)  # the kernel inherits it: one project root for all paths
    try:
        pm.execute_notebook(
            str(source), str(executed), parameters=params, cwd=str(root), kernel_name=kernel_name,
            log_output=log_output, progress_bar=False,
        )
    except pm.PapermillExecutionError as err:
        export_html(executed, page)
        raise StageError(
            f"stage {stage}: a cell of {source} failed with {err.ename}: {err.evalue}\n"
            f"--- the cell (execution count {err.exec_count}) ---\n{_cell_source(executed, err.cell_index)}\n"
            f"--- traceback ---\n" + _strip_ansi("\n".join(err.traceback))
            + f"\n--- the partially executed notebook: {executed} (HTML: {page})"
        ) from None
    return export_html(executed, page)
