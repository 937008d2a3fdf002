"""The source notebooks as a reviewer and an editor see them: paired text files and generated parameters cells.

Each ``notebooks/NN_name.ipynb`` (what papermill executes and DVC tracks) is paired with
``notebooks/NN_name.py``, the same cells in jupytext's percent format (``# %%`` code cells, ``# %% [markdown]``
prose), so that a change to a notebook reviews as a diff of prose and code rather than JSON. The pairing is
declared in ``jupytext.toml`` at the project root, so JupyterLab with jupytext keeps both files in step as
you edit either one.

Each notebook's cell tagged ``parameters`` is generated from ``params.yaml``: one assignment per entry the
stage declares in ``dvc.yaml`` (:func:`fernb.workbook.stages.stage_parameters`), under the cell's own leading
comment. ``fernb notebooks`` brings everything in step in one command — a ``.py`` edited more recently than
its ``.ipynb`` is read back into it, the parameters cells are rewritten from ``params.yaml``, and each
``.py`` is written from its notebook; ``fernb notebooks --check`` (a test runs it) lists what is out of step
and changes nothing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat

from fernb.paths import project_root
from fernb.workbook.stages import notebook_of, notebook_runs, stage_parameters

__all__ = ["TEXT_FORMAT", "parameters_source", "text_of", "sync_notebooks"]

TEXT_FORMAT = "py:percent"
NOTEBOOKS_DIR = Path("notebooks")
# What the .py keeps of the notebook's metadata: none (kernelspec and the like stay in the .ipynb), and of
# each cell's only its tags (the parameters cell's tag is what papermill injects after).
_TEXT_CONFIG = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "tags,-all"}


def _literal(value: Any) -> str:
    """A parameter's value as Python source; a section (dict) one key per line, as a reader scans it."""
    if isinstance(value, dict) and value:
        return "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in value.items()) + "}"
    return repr(value)


def parameters_source(stage: str, comment: str = "", root: str | os.PathLike | None = None) -> str:
    """The parameters cell of ``stage``'s notebook: ``comment`` (the cell's leading ``#`` lines), then
    ``name = value`` for each parameter the stage receives with ``params.yaml``'s value (a ``foreach``
    stage's first item)."""
    lines = [comment.rstrip("\n")] if comment.strip() else []
    lines += [f"{name} = {_literal(value)}" for name, value in stage_parameters(stage, root).items()]
    return "\n".join(lines)


def _leading_comment(source: str) -> str:
    lines = source.splitlines()
    kept = []
    for line in lines:
        if not line.startswith("#"):
            break
        kept.append(line)
    return "\n".join(kept)


def _parameters_cell(nb) -> Any:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected exactly one cell tagged 'parameters', found {len(cells)}")
    return cells[0]


def text_of(nb) -> str:
    """The notebook in the paired text format (what ``notebooks/NN_name.py`` must hold)."""
    import jupytext  # deferred: only `fernb notebooks` and its test pair notebooks

    return jupytext.writes(nb, fmt={"format_name": "percent", "extension": ".py", **_TEXT_CONFIG})


def _read_text(path: Path, like) -> Any:
    """The .py read back as a notebook, keeping ``like``'s notebook metadata (kernelspec) and cell ids
    where a cell's source is unchanged."""
    import jupytext

    nb = jupytext.read(path, fmt=TEXT_FORMAT)
    nb.metadata = like.metadata
    ids = {c.source: c.get("id") for c in like.cells}
    same_shape = [c.cell_type for c in nb.cells] == [c.cell_type for c in like.cells]
    for index, cell in enumerate(nb.cells):
        if same_shape and like.cells[index].get("id"):   # cells edited in place keep their ids
            cell["id"] = like.cells[index]["id"]
        elif cell.source in ids and ids[cell.source]:
            cell["id"] = ids[cell.source]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def sync_notebooks(root: str | os.PathLike | None = None, check: bool = False) -> list[str]:
    """Bring every stage notebook, its parameters cell and its paired ``.py`` in step; return what was (with
    ``check``: what would be) changed, one line each, naming the file and why. ``check`` writes nothing."""
    root = Path(root) if root is not None else project_root()
    changes: list[str] = []
    first_run = {}
    for run in notebook_runs(root):
        first_run.setdefault(notebook_of(run), run)
    for name, run in first_run.items():
        ipynb = root / NOTEBOOKS_DIR / f"{name}.ipynb"
        text = ipynb.with_suffix(".py")
        nb = nbformat.read(str(ipynb), as_version=4)
        dirty = False
        if not check and text.is_file() and text.stat().st_mtime > ipynb.stat().st_mtime and text.read_text() != text_of(nb):
            nb, dirty = _read_text(text, nb), True
            changes.append(f"{ipynb.relative_to(root)}: cells read back from its edited {text.name}")
        try:
            cell = _parameters_cell(nb)
        except ValueError as err:
            raise ValueError(f"{ipynb}: {err}") from None
        wanted = parameters_source(run, _leading_comment(cell.source), root)
        if cell.source != wanted:
            cell.source, dirty = wanted, True
            changes.append(f"{ipynb.relative_to(root)}: parameters cell regenerated from params.yaml")
        if dirty and not check:
            nbformat.write(nb, str(ipynb))
        paired = text_of(nb)
        if not text.is_file() or text.read_text() != paired:
            changes.append(f"{text.relative_to(root)}: out of step with {ipynb.name}")
            if not check:
                text.write_text(paired)
    return changes
