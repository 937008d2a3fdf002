"""Run numbered notebooks as DVC stages: papermill in, executed notebook + HTML out.

A stage named ``NN_name`` executes ``notebooks/NN_name.ipynb`` and writes
``reports/NN_name/NN_name.{ipynb,html}``. Its parameters are exactly the keys that
``dvc.yaml`` declares under the stage's ``params:``, read from ``params.yaml`` and injected
by papermill under their last name (``synthfer.n_train`` → ``n_train``). Because the
declared keys are the only values a notebook receives, DVC's dependency tracking is exact:
change a key and only the stages that declare it re-run.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import yaml

from fernb.paths import REPORTS, project_root
from fernb.report import dotted_get

RUN_COMMAND = "fernb run"


class StageError(RuntimeError):
    """A stage could not be run or its notebook failed."""


def _load_yaml(path: Path) -> Any:
    if not path.is_file():
        raise StageError(f"{path} not found (expected the project's {path.name})")
    with path.open() as fh:
        return yaml.safe_load(fh) or {}


def stages(root: str | os.PathLike | None = None) -> dict[str, dict]:
    """All stages of ``dvc.yaml`` by name."""
    root = Path(root) if root else project_root()
    return _load_yaml(root / "dvc.yaml").get("stages", {})


def notebook_stages(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the stages that run a notebook, in ``dvc.yaml`` order."""
    return [name for name, st in stages(root).items() if str(st.get("cmd", "")).startswith(RUN_COMMAND)]


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for key, sub in value.items():
            out.extend(_flatten(f"{prefix}.{key}", sub))
        return out
    return [(prefix, value)]


def declared_keys(stage: str, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The dotted params keys a stage declares in ``dvc.yaml`` with their ``params.yaml`` values.

    A declared section (``- synthfer``) stands for every key inside it.
    """
    root = Path(root) if root else project_root()
    all_stages = stages(root)
    if stage not in all_stages:
        raise StageError(f"no stage {stage!r} in {root / 'dvc.yaml'}; stages: {sorted(all_stages)}")
    files: dict[str, list[str]] = {}
    for entry in all_stages[stage].get("params", []) or []:
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
                node = dotted_get(params, key)
            except KeyError:
                raise StageError(f"stage {stage} declares param {key!r} but {root / file} has no such key") from None
            values.update(dict(_flatten(key, node)))
    return values


def stage_parameters(stage: str, root: str | os.PathLike | None = None,
                     overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Notebook parameters of ``stage``: declared keys by last name, then ``overrides``.

    Two declared keys with the same last name are an error (the notebook could not tell
    them apart); an override for a name the stage does not declare is an error too.
    """
    params: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in declared_keys(stage, root).items():
        name = key.rsplit(".", 1)[-1]
        if name in origin:
            raise StageError(f"stage {stage}: params {origin[name]!r} and {key!r} both become notebook parameter {name!r}; rename one in params.yaml")
        params[name], origin[name] = value, key
    for name, value in (overrides or {}).items():
        name = name.rsplit(".", 1)[-1]
        if name not in params:
            raise StageError(f"stage {stage} has no parameter {name!r}; it takes {sorted(params)}")
        params[name] = value
    return params


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
    import nbformat
    from nbconvert import HTMLExporter

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
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _cell_source(notebook: Path, index: int) -> str:
    """The source of the cell that failed: the code cell holding an error output.

    (Papermill inserts an error banner cell at the top of the executed notebook, so the
    index it reports no longer points at the failing cell there.)
    """
    import nbformat

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
    """Execute ``notebooks/<stage>.ipynb`` with its parameters and export it to HTML.

    Returns the HTML path. A failing cell raises :class:`StageError` naming the cell and
    the error (the partially executed notebook and its HTML are still written, for
    reading what went wrong).
    """
    import papermill as pm

    root = Path(root).resolve() if root else project_root()
    source = root / "notebooks" / f"{stage}.ipynb"
    if not source.is_file():
        raise StageError(f"stage {stage}: notebook {source} not found")
    params = stage_parameters(stage, root, overrides)
    out_dir = root / REPORTS / stage
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{stage}.ipynb"
    page = out_dir / f"{stage}.html"
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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


def build_index(root: str | os.PathLike | None = None) -> Path:
    """Write ``reports/index.html``: one row per notebook stage, linked, with its headline numbers."""
    root = Path(root).resolve() if root else project_root()
    rows = []
    for stage in notebook_stages(root):
        summary_file = root / REPORTS / stage / "summary.json"
        page = root / REPORTS / stage / f"{stage}.html"
        if summary_file.is_file():
            summary = json.loads(summary_file.read_text())
            title, headline = summary.get("title", stage), summary.get("headline", {})
        else:
            title, headline = stage, {"status": "not run yet"}
        link = (f'<a href="{html.escape(f"{stage}/{stage}.html")}">{html.escape(title)}</a>'
                if page.is_file() else html.escape(title))
        numbers = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>"
                          for k, v in headline.items())
        rows.append(f"<tr><td><code>{html.escape(stage)}</code></td><td>{link}</td>"
                    f"<td><table class='nums'>{numbers}</table></td></tr>")
    page_html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fernb reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: .4em .6em; vertical-align: top; text-align: left; }}
table.nums td {{ border: none; padding: .05em .5em; font-size: .9em; }} code {{ font-size: .95em; }}
</style></head><body>
<h1>fernb — reports</h1>
<p>Each notebook below was executed by <code>dvc repro</code> with the parameters in <code>params.yaml</code>;
its metrics are in <code>reports/&lt;stage&gt;/metrics.json</code> (<code>dvc metrics show</code>).</p>
<table><thead><tr><th>stage</th><th>notebook</th><th>headline numbers</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    target = root / REPORTS / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(".index.html.tmp")
    tmp.write_text(page_html, encoding="utf-8")
    os.replace(tmp, target)
    return target
