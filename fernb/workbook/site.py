"""The reader's site (``make site``): the docs, the executed notebooks and the claims ledger
as one offline website, built by Sphinx with myst-nb under the book theme.

:func:`build_site` gathers its sources into ``build/site/`` and renders them into ``site/``:

- ``index.md``: the front page — the committed real-data results table
  (:func:`fernb.workbook.results_table.readme_table`), the ledger's findings by paper and severity,
  then one line per notebook with its headline numbers (``reports/<stage>/summary.json``);
- ``docs/``: the repository's ``docs/*.md`` pages as they are;
- ``notebooks/``: every stage's *executed* notebook from ``reports/`` (never re-executed:
  ``nb_execution_mode = "off"``), with its code folded (:func:`fold_code`) and each figure captioned
  with its title (:func:`caption_figures`);
- ``ledger.md``: the claims ledger (notebook 06's ``claims.csv`` and ``findings.csv``) as two tables
  a reader can sort, search and filter by paper, kind, verdict and severity (:func:`ledger_tables`).

Everything the pages load is installed with the Python packages: the theme's assets, Sphinx's search
index, and DataTables from the ``itables`` wheel, inlined into the ledger page
(:func:`itables.javascript.generate_init_offline_itables_html`). No page fetches anything from the
network at view time; ``tests/workbook/test_site.py`` loads every page in Debian's Chromium to hold
that, with no console error and every internal link resolving.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd

from fernb.paths import project_root, reports_dir
from fernb.workbook.index_page import readable
from fernb.workbook.report import CAPTIONS
from fernb.workbook.results_table import RESULTS_DIR, readme_table
from fernb.workbook.stages import notebook_of, notebook_runs

__all__ = ["SITE_SOURCE", "SITE_DIR", "build_site", "gather_sources", "fold_code", "ledger_tables", "front_page", "caption_figures",
           "CONF"]

SITE_SOURCE = Path("build") / "site"     # the gathered sources (ignored by git)
SITE_DIR = Path("site")                  # the built website (ignored by git): open site/index.html

# Sphinx's conf.py, written into SITE_SOURCE by gather_sources
CONF = '''# Written by fernb.workbook.site (make site): edit that module, not this file.
project = "fernb"
author = "fernb"
extensions = ["myst_nb"]
html_theme = "sphinx_book_theme"
html_title = "fernb: two FER papers, measured"
nb_execution_mode = "off"          # the notebooks are reports/'s executed copies, rendered as they ran
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3           # docs/ link to sections GitHub-style (page.md#a-heading)
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header", "myst.xref_missing", "misc.highlighting_failure"]
html_context = {"default_mode": "light"}
html_theme_options = {"use_download_button": False, "use_fullscreen_button": False, "show_toc_level": 2,
                      "home_page_in_toc": True}
html_static_path = ["_static"]
html_css_files = ["fernb.css"]
html_extra_path = ["_extra"]       # results/<dataset>/'s files, linked from their README pages
html_show_sourcelink = False
'''

# the site's own stylesheet: wide tables get the page's width and scroll inside it
CSS = """.bd-page-width { max-width: 100rem; }
.bd-main .bd-content .bd-article-container { max-width: 100%; }
.bd-article table { display: block; overflow-x: auto; }
"""

# cell tags that fold a cell in the book theme (sphinx-togglebutton, which the theme loads)
_PARAMETER_TAGS = {"parameters", "injected-parameters"}


def fold_code(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with its code folded for a reader: each parameters cell (papermill's
    ``parameters`` and ``injected-parameters``) hidden whole behind a toggle (``hide-cell``), every
    other code cell's source behind one (``hide-input``), its outputs shown. Tags already there stay."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        wanted = "hide-cell" if _PARAMETER_TAGS & set(tags) else "hide-input"
        if wanted not in tags:
            tags.append(wanted)
        cell.metadata["tags"] = tags
    return nb


_FIGURE_CALL = re.compile(r"report\.figure\(.*?,\s*[\"']([\w.-]+)[\"']\s*\)", re.S)


def caption_figures(nb: nbformat.NotebookNode, captions: dict[str, str], prefix: str = "") -> nbformat.NotebookNode:
    """Each code cell that saves a figure (``report.figure(..., "name")``) and shows an image gets a
    numbered caption, the figure's title as ``figures/captions.json`` recorded it
    (:meth:`fernb.workbook.report.Report.figure`), else its name in words; myst-nb renders it as a
    figure with that caption (cell metadata ``mystnb.figure``)."""
    number = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        shows_image = any("image/png" in (o.get("data") or {}) for o in cell.get("outputs", []))
        found = _FIGURE_CALL.findall(cell.source)
        if not (shows_image and found):
            continue
        number += 1
        name = found[0]
        caption = captions.get(name) or name.replace("_", " ")
        cell.metadata.setdefault("mystnb", {})["figure"] = {"caption": f"Figure {number}. {caption}",
                                                            "name": f"{prefix}{name}".replace("_", "-")}
    return nb


def _executed_notebooks(root: Path) -> list[tuple[str, Path]]:
    """``(stage, executed notebook)`` for every notebook stage whose report holds one, in dvc.yaml order."""
    found = []
    for stage in notebook_runs(root):
        path = reports_dir(stage, root) / f"{notebook_of(stage)}.ipynb"
        if path.is_file():
            found.append((stage, path))
    return found


def _page_name(stage: str) -> str:
    return stage.replace("@", "-")


def ledger_tables(claims: pd.DataFrame, findings: pd.DataFrame | None) -> str:
    """The ledger page's HTML: DataTables' offline bundle once, then the findings (when there are any)
    and every check, each sortable and searchable, the checks with filter panes on paper, kind,
    verdict and severity."""
    from itables import options as itables_options
    from itables import to_html_datatable
    from itables.javascript import generate_init_offline_itables_html

    parts = [generate_init_offline_itables_html(itables_options.dt_bundle)]
    if findings is not None and len(findings):
        parts.append("<h2>Findings</h2>")
        parts.append(to_html_datatable(findings.astype(object).fillna(""), connected=False, maxBytes=0, table_id="findings",
                                       classes="display compact", scrollX=True, pageLength=25))
    columns = [c for c in ("check_id", "paper", "kind", "verdict", "severity", "finding", "claim", "stated", "ours",
                           "evidence") if c in claims.columns]
    shown = claims[columns].astype(object).fillna("")
    panes = [columns.index(c) for c in ("paper", "kind", "verdict", "severity") if c in columns]
    parts.append(f"<h2>Every check ({len(shown)})</h2>")
    parts.append(to_html_datatable(shown, connected=False, maxBytes=0, table_id="checks", classes="display compact",
                                   scrollX=True, pageLength=25, layout={"top1": "searchPanes"},
                                   searchPanes={"columns": panes, "cascadePanes": True, "initCollapsed": True}))
    return "\n".join(parts)


_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


# files DVC reads as a pipeline wherever they lie: a copy beside the pages gets ".txt" (and the links follow)
_PIPELINE_FILES = ("dvc.yaml", "dvc.lock")


def _linked_files(root: Path, src: Path) -> None:
    """Repository files the docs link to (``../fernb/workbook/site.py``, ``../profiles/real.yaml``), copied
    to the same place beside the site's pages so the links resolve; pages (``.md``) and notebooks are
    rendered, not copied, and ``results/`` comes whole (:func:`_results`). ``dvc.yaml`` and ``dvc.lock``
    are copied as ``dvc.yaml.txt`` / ``dvc.lock.txt``, the pages' links rewritten to them: a second
    ``dvc.yaml`` inside the project would be read by DVC as another pipeline."""
    for page in sorted((src / "docs").glob("*.md")):
        text = page.read_text()
        for target in set(_LINK.findall(text)):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (root / "docs" / target).resolve()
            try:
                rel = path.relative_to(root)
            except ValueError:
                continue
            if not path.is_file() or path.suffix in (".md", ".ipynb") or rel.parts[0] in ("results", "docs"):
                continue
            if path.name in _PIPELINE_FILES:
                rel = rel.with_name(path.name + ".txt")
                text = text.replace(f"]({target}", f"]({target}.txt")
            (src / "_extra" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / "_extra" / rel)
        page.write_text(text)


def _results(root: Path, src: Path) -> None:
    """Each committed ``results/<dataset>/``: its README as a page, every other file (pixel-free:
    metrics, tables, predictions, cards) copied beside it as a plain file the page links to."""
    for readme in sorted((root / RESULTS_DIR).glob("*/README.md")):
        rel = readme.parent.relative_to(root)
        (src / rel).mkdir(parents=True, exist_ok=True)
        shutil.copy2(readme, src / rel / "README.md")
        top = readme.parent
        shutil.copytree(top, src / "_extra" / rel, dirs_exist_ok=True,
                        ignore=lambda d, names, top=top: [n for n in names if n == "README.md" and Path(d) == top])


def _ledger_page(root: Path, src: Path) -> str | None:
    folder = reports_dir("06_statistics", root)
    if not (folder / "claims.csv").is_file():
        return None
    claims = pd.read_csv(folder / "claims.csv")
    findings = pd.read_csv(folder / "findings.csv") if (folder / "findings.csv").is_file() else None
    (src / "ledger_tables.html").write_text(ledger_tables(claims, findings))
    intro = ("# The claims ledger\n\nEvery number either paper states, each with the checks the workbook ran on it "
             "(notebook 06). Sort by clicking a column's head, search every cell with the box, and narrow the "
             "checks by paper, kind, verdict or severity with the panes above them (click *Show All*).\n\n")
    (src / "ledger.md").write_text(intro + "```{raw} html\n:file: ledger_tables.html\n```\n")
    return "ledger"


def front_page(root: Path, notebooks: list[tuple[str, str]], docs: list[str], ledger: str | None) -> str:
    """The site's front page (MyST): the results table first, the ledger's findings counted, one line
    per notebook with its headline numbers, and the table of contents."""
    lines = ["# fernb: two facial-expression papers, measured", "",
             "HAFEM and LANMSFF reproduced and audited: what each paper states, what the workbook measures, and "
             "where the two disagree.", ""]
    lines += ["## Results on real data", "", readme_table(root / RESULTS_DIR), ""]
    findings_file = reports_dir("06_statistics", root) / "findings.csv"
    if ledger and findings_file.is_file():
        findings = pd.read_csv(findings_file)
        if len(findings):
            counts = findings.groupby(["paper", "severity"]).size().unstack(fill_value=0)
            lines += ["## The ledger's findings", "", counts.to_markdown() if hasattr(counts, "to_markdown") else
                      counts.to_string(), "", f"Every check, filterable: [the claims ledger]({ledger}.md).", ""]
    if notebooks:
        lines += ["## The notebooks", ""]
        for page, stage in notebooks:
            summary_file = reports_dir(stage, root) / "summary.json"
            summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
            title = summary.get("title", stage)
            labels = summary.get("labels", {})
            numbers = "; ".join(f"{labels.get(k) or readable(str(k), stage)}: {v:.4g}" if isinstance(v, float) else
                                f"{labels.get(k) or readable(str(k), stage)}: {v}"
                                for k, v in list(summary.get("headline", {}).items())[:4])
            lines.append(f"- [{title}](notebooks/{page}.ipynb)" + (f" — {numbers}" if numbers else ""))
        lines.append("")
    results = sorted(p.parent.name for p in (root / RESULTS_DIR).glob("*/README.md"))
    toc = ([f"notebooks/{page}" for page, _ in notebooks] + ([ledger] if ledger else [])
           + [f"results/{r}/README" for r in results] + [f"docs/{d}" for d in docs])
    lines += ["```{toctree}", ":hidden:", ":maxdepth: 1", "", *toc, "```", ""]
    return "\n".join(lines)


def gather_sources(root: str | os.PathLike | None = None, src: str | os.PathLike | None = None) -> Path:
    """Write the site's sources into ``src`` (default ``build/site/``, emptied first): conf.py, the
    front page, docs/, the executed notebooks with code folded, the ledger page. Returns ``src``."""
    root = Path(root).resolve() if root else project_root()
    src = Path(src) if src is not None else root / SITE_SOURCE
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    (src / "_extra" / "notebooks").mkdir(parents=True)
    (src / "_static").mkdir()
    (src / "_static" / "fernb.css").write_text(CSS)
    (src / "conf.py").write_text(CONF)
    docs = []
    if (root / "docs").is_dir():
        shutil.copytree(root / "docs", src / "docs")
        _linked_files(root, src)
        docs = sorted(p.stem for p in (root / "docs").glob("*.md"))
        docs = (["index"] if "index" in docs else []) + [d for d in docs if d != "index"]
    notebooks = []
    for stage, path in _executed_notebooks(root):
        page = _page_name(stage)
        captions_file = path.parent / "figures" / CAPTIONS
        captions = json.loads(captions_file.read_text()) if captions_file.is_file() else {}
        nb = caption_figures(fold_code(nbformat.read(str(path), as_version=4)), captions, prefix=f"{page}-")
        nbformat.write(nb, str(src / "notebooks" / f"{page}.ipynb"))
        for extra in path.parent.glob("*.html"):   # pages a notebook links to beside it (06's claims.html)
            if extra.stem != notebook_of(stage):
                shutil.copy2(extra, src / "_extra" / "notebooks" / extra.name)
        notebooks.append((page, stage))
    _results(root, src)
    ledger = _ledger_page(root, src)
    (src / "index.md").write_text(front_page(root, notebooks, docs, ledger))
    return src


def build_site(root: str | os.PathLike | None = None, out: str | os.PathLike | None = None) -> Path:
    """Gather the sources (:func:`gather_sources`) and render them with ``sphinx-build -b html`` into
    ``out`` (default ``site/``); returns the front page's path. A Sphinx failure raises with its output."""
    root = Path(root).resolve() if root else project_root()
    out = Path(out) if out is not None else root / SITE_DIR
    src = gather_sources(root)
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(out)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sphinx-build failed on {src}:\n{done.stdout}\n{done.stderr}")
    return out / "index.html"
