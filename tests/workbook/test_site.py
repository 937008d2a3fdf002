"""The reader's site (fernb/workbook/site.py) built from a project's reports, and checked in Debian's
headless Chromium (fernb/workbook/site_check.py) where it is installed."""
from __future__ import annotations

import base64
import io
import re
import shutil

import matplotlib
import nbformat
import pandas as pd
import pytest

from fernb.workbook import site, site_check

from conftest import REPO

matplotlib.use("Agg")


def _png() -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _executed(title: str) -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: a parameters cell, the injected one, code with outputs."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("seed = 0", metadata={"tags": ["parameters"]})
    injected = nbformat.v4.new_code_cell("seed = 1", metadata={"tags": ["injected-parameters"]})
    code = nbformat.v4.new_code_cell("print('accuracy 0.5')", metadata={"tags": ["keep"]})
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="accuracy 0.5\n")]
    figure = nbformat.v4.new_code_cell('report.figure(plots.curves(h, "HAFEM: curves"), "learning_curves")\nplt.show()')
    figure.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"})]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nWhat this notebook measures."), params, injected, code,
                nbformat.v4.new_markdown_cell("## A section"), figure]
    return nb


def test_code_is_folded_and_parameters_hidden_whole():
    nb = site.fold_code(_executed("x"))
    tags = [c.metadata.get("tags") for c in nb.cells]
    assert tags == [None, ["parameters", "hide-cell"], ["injected-parameters", "hide-cell"], ["keep", "hide-input"],
                    None, ["hide-input"]]
    assert site.fold_code(nb).cells[3].metadata["tags"] == ["keep", "hide-input"]     # folding twice changes nothing


def test_figures_get_their_recorded_title_as_a_numbered_caption():
    nb = site.caption_figures(_executed("x"), {"learning_curves": "HAFEM on SynthFER: learning curves"}, prefix="01-")
    [figure] = [c for c in nb.cells if "mystnb" in c.metadata]
    assert figure.metadata["mystnb"]["figure"] == {"caption": "Figure 1. HAFEM on SynthFER: learning curves",
                                                   "name": "01-learning-curves"}
    bare = site.caption_figures(_executed("x"), {})
    assert [c.metadata["mystnb"]["figure"]["caption"] for c in bare.cells if "mystnb" in c.metadata] == \
        ["Figure 1. learning curves"]


def test_the_report_records_each_figures_title(tmp_path):
    import matplotlib.pyplot as plt

    from fernb.workbook.report import CAPTIONS, Report, figure_title

    report = Report("01_hafem", root=tmp_path)
    fig, ax = plt.subplots()
    ax.set_title("per class")
    fig.suptitle("HAFEM on SynthFER")
    report.figure(fig, "bars")
    bare, _ = plt.subplots()
    report.figure(bare, "no_title")
    assert figure_title(fig) == "HAFEM on SynthFER"
    import json
    assert json.loads((report.dir / "figures" / CAPTIONS).read_text()) == {"bars": "HAFEM on SynthFER",
                                                                          "no_title": "no title"}
    plt.close("all")


@pytest.fixture
def built(project_copy, tmp_path):
    """A project whose reports hold two executed notebooks and the committed ledger, built into a site."""
    for stage, name in (("01_hafem", "01_hafem"), ("00_data_prep/synthfer", "00_data_prep")):
        folder = project_copy / "reports" / stage
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(_executed(f"{name} title"), str(folder / f"{name}.ipynb"))
        (folder / "figures").mkdir(exist_ok=True)
        (folder / "figures" / "captions.json").write_text('{"learning_curves": "The curves of ' + name + '"}')
    ledger = project_copy / "reports" / "06_statistics"
    ledger.mkdir(parents=True)
    for name in ("claims.csv", "findings.csv"):
        shutil.copy2(REPO / "reports" / "06_statistics" / name, ledger / name)
    nbformat.write(_executed("06 title"), str(ledger / "06_statistics.ipynb"))
    (ledger / "claims.html").write_text("<!doctype html><title>ledger</title><p>the ledger</p>")
    if not (project_copy / "docs" / "setup.md").is_file():     # the repository's own docs/ (copied) when it has them
        (project_copy / "docs").mkdir(exist_ok=True)
        (project_copy / "docs" / "index.md").write_text("# Docs\n\nSee [setup](setup.md).\n")
        (project_copy / "docs" / "setup.md").write_text("# Set-up\n\n`make repro`, then `make test`.\n")
    front = site.build_site(project_copy, out=tmp_path / "site")
    return project_copy, front


def test_the_site_holds_the_front_page_notebooks_ledger_docs_and_results(built):
    project, front = built
    out = front.parent
    for page in ("index.html", "notebooks/01_hafem.html", "notebooks/00_data_prep-synthfer.html", "ledger.html",
                 "docs/index.html", "docs/setup.html", "search.html", "searchindex.js"):
        assert (out / page).is_file(), page
    text = front.read_text()
    assert "Results on real data" in text and "The notebooks" in text
    for folder in sorted((project / "results").glob("*/README.md")):     # each committed result is a page
        assert (out / "results" / folder.parent.name / "README.html").is_file()
    assert "Figure 1. The curves of 01_hafem" in (out / "notebooks" / "01_hafem.html").read_text()
    # no second pipeline file inside the project (DVC would read it): the docs' link to dvc.yaml gets a .txt copy
    assert not list(out.rglob("dvc.yaml")) and not list((project / "build").rglob("dvc.yaml"))
    if "../dvc.yaml" in "".join(p.read_text() for p in (project / "docs").glob("*.md")):
        assert (out / "dvc.yaml.txt").is_file()
    assert (out / "notebooks" / "claims.html").is_file()      # notebook 06 links to its ledger page beside it
    claims = pd.read_csv(project / "reports" / "06_statistics" / "claims.csv")
    ledger = (out / "ledger.html").read_text()
    assert f"Every check ({len(claims)})" in ledger and 'id="checks"' in ledger and 'id="findings"' in ledger
    # nothing is fetched from a CDN: no page names a script or stylesheet off the site
    for page in out.rglob("*.html"):
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", page.read_text()), page


@pytest.mark.skipif(site_check.chromium_missing() is not None, reason=f"{site_check.chromium_missing()}")
def test_every_page_loads_clean_in_chromium_with_code_folded_and_a_ledger_that_filters(built, tmp_path):
    _, front = built
    shots = tmp_path / "shots"
    shots.mkdir()
    report = site_check.check_site(front.parent, screenshots=shots)
    assert {"index.html", "ledger.html", "notebooks/01_hafem.html", "docs/setup.html"} <= set(report["pages"])
    assert report["console_errors"] == [] and report["external_requests"] == [] and report["broken_links"] == []
    for page, state in report["folding"].items():
        assert state["toggles"] >= 3 and state["open"] == 0 and state["opened_by_click"], (page, state)
    shown = [int(re.search(r"of ([\d,]+) entries", report["ledger_filter"][k]).group(1).replace(",", ""))
             for k in ("before", "after")]
    assert 0 < shown[1] < shown[0], report["ledger_filter"]
    assert (shots / "front.png").stat().st_size > 10_000 and (shots / "notebook.png").stat().st_size > 10_000
