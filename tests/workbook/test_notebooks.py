"""`fernb notebooks`: parameters cells generated from params.yaml, notebooks paired with percent-format .py files."""
from __future__ import annotations

import os
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from fernb.workbook import notebooks

from conftest import BIN, REPO


def _env(root) -> dict:
    """The environment of a `fernb` subprocess run in ``root``: a stage run earlier in this process set
    FERNB_ROOT (fernb.workbook.stages.run_stage), which would point the command at that other project."""
    return {**os.environ, "FERNB_ROOT": str(root)}


def _project(tmp_path):
    """The repository's dvc.yaml, params.yaml and notebooks, in step."""
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy2(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    (tmp_path / "fernb").mkdir()
    notebooks.sync_notebooks(tmp_path)
    return tmp_path


def test_the_parameters_cell_is_the_stages_parameters_under_its_comment(tmp_path):
    root = _project(tmp_path)
    source = notebooks.parameters_source("02_lanmsff", "# Parameters: injected by papermill", root)
    assert source.splitlines()[:3] == ["# Parameters: injected by papermill", "dataset = 'synthfer'", "test_fold = 0"]
    values = {}
    exec(source, {}, values)
    from fernb.workbook.stages import stage_parameters

    assert values == stage_parameters("02_lanmsff", root)
    assert "lanmsff = {\n    'seeds': [0],\n" in source   # a section one key per line


def test_a_params_yaml_change_is_found_by_check_and_written_by_sync(tmp_path):
    root = _project(tmp_path)
    assert notebooks.sync_notebooks(root, check=True) == []
    params = (root / "params.yaml").read_text()
    (root / "params.yaml").write_text(params.replace("  epochs: 5 ", "  epochs: 7 ", 1))   # lanmsff.epochs
    before = (root / "notebooks" / "02_lanmsff.ipynb").read_text()
    stale = notebooks.sync_notebooks(root, check=True)
    assert {"notebooks/02_lanmsff.ipynb: parameters cell regenerated from params.yaml",
            "notebooks/02_lanmsff.py: out of step with 02_lanmsff.ipynb"} <= set(stale)
    assert not [line for line in stale if line.startswith(("notebooks/00", "notebooks/01"))]   # they take no lanmsff
    assert (root / "notebooks" / "02_lanmsff.ipynb").read_text() == before          # --check changes nothing
    done = subprocess.run([str(BIN / "fernb"), "notebooks", "--check"], cwd=root, env=_env(root), capture_output=True, text=True)
    assert done.returncode == 1 and "02_lanmsff.ipynb: parameters cell regenerated" in done.stderr
    assert notebooks.sync_notebooks(root) == stale
    nb = nbformat.read(root / "notebooks" / "02_lanmsff.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "    'epochs': 7,\n" in cell.source and cell.source.startswith("# Parameters")
    assert "    'epochs': 7,\n" in (root / "notebooks" / "02_lanmsff.py").read_text()
    assert notebooks.sync_notebooks(root, check=True) == []


def test_an_edited_py_is_read_back_into_its_notebook(tmp_path):
    root = _project(tmp_path)
    text = root / "notebooks" / "06_statistics.py"
    ipynb = root / "notebooks" / "06_statistics.ipynb"
    old = nbformat.read(ipynb, as_version=4)
    edited = text.read_text().replace("# %% [markdown]\n", "# %% [markdown]\n# A sentence a reviewer added.\n#\n", 1)
    text.write_text(edited)
    os.utime(ipynb, (1, 1))            # the .py is the newer file
    assert notebooks.sync_notebooks(root) == ["notebooks/06_statistics.ipynb: cells read back from its edited 06_statistics.py"]
    nb = nbformat.read(ipynb, as_version=4)
    assert nb.cells[0].source.startswith("A sentence a reviewer added.")
    assert nb.metadata == old.metadata and len(nb.cells) == len(old.cells)
    assert [c.get("id") for c in nb.cells[1:]] == [c.get("id") for c in old.cells[1:]]   # unchanged cells keep their ids
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert text.read_text() == edited and notebooks.sync_notebooks(root, check=True) == []


def test_the_text_form_is_percent_format_with_the_parameters_tag():
    nb = new_notebook(cells=[new_markdown_cell("# Title\nProse."), new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                             new_code_cell("print(x)")], metadata={"kernelspec": {"name": "python3", "display_name": "P",
                                                                                  "language": "python"}})
    assert notebooks.text_of(nb) == ('# %% [markdown]\n# # Title\n# Prose.\n\n# %% tags=["parameters"]\nx = 1\n\n'
                                     "# %%\nprint(x)\n")


def test_a_notebook_without_a_parameters_cell_is_named(tmp_path):
    root = _project(tmp_path)
    path = root / "notebooks" / "07_fps.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match=r"07_fps.ipynb: expected exactly one cell tagged 'parameters', found 0"):
        notebooks.sync_notebooks(root, check=True)
