"""The headline table of the committed real-data results: README.md's "Results on real data" and
the reports' front page (``reports/index.html``, :func:`fernb.workbook.index_page.build_index`).

Each ``results/<dataset>/`` folder :func:`fernb.workbook.results.export` wrote holds its runs
(``runs/<stage>/runs.json`` and each run's ``result.json`` / ``history.csv``), its
``provenance.json`` and ``measurements.json`` (the numbers with intervals that the claims ledger
reads, :func:`fernb.evaluate.measured.committed_measurements`). :func:`table_rows` reads them into
one row per dataset and paper model (stages 01 and 02): the scale it trained at, test accuracy
and macro-F1, the accuracy on the leak-free test subset (:mod:`fernb.evaluate.leakage`), the
paper's claim on that dataset (:mod:`fernb.papers.hafem`, :mod:`fernb.papers.lanmsff`) and the
training time. :func:`readme_table` writes them as markdown, :func:`html_table` as HTML,
:func:`update_readme` puts the markdown between README.md's markers. Nothing here is typed in:
every cell comes from those files.

This module reads JSON and CSV only (no torch), so that the index stage can use it.
"""
from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import numpy as np

from fernb.papers import hafem as hafem_paper
from fernb.papers import lanmsff as lanmsff_paper
from fernb.paths import RUNS
from fernb.runs import HISTORY, MANIFEST, RESULT

__all__ = ["RESULTS_DIR", "PROVENANCE", "MEASUREMENTS", "PAPER_STAGES", "TABLE_BEGIN", "TABLE_END", "TABLE_COLUMNS", "training_seconds",
           "run_rows", "duration", "table_rows", "readme_table", "html_table", "update_readme"]

RESULTS_DIR = Path("results")        # results/<dataset>/ under the project root
PROVENANCE = "provenance.json"
MEASUREMENTS = "measurements.json"   # what the claims ledger reads back (fernb.evaluate.measured.committed_measurements)
# The stages whose models are the papers' (their claims go beside ours in the table).
PAPER_STAGES = ("01_hafem", "02_lanmsff")
TABLE_BEGIN, TABLE_END = "<!-- results-table:begin -->", "<!-- results-table:end -->"
TABLE_COLUMNS = ("dataset", "model", "scale", "test accuracy %", "per seed %", "leak-free test accuracy %", "macro-F1 %",
           "paper's accuracy %", "training time")
EMPTY = "No committed results yet (`fernb results export DATASET` after a real-data run)."


def training_seconds(run_dir: Path) -> float | None:
    """A run's whole training time: the sum of its ``history.csv``'s ``epoch_seconds`` (every call
    of a run resumed from its checkpoint counts), else ``result.json``'s ``train_seconds_this_call``."""
    history = Path(run_dir) / HISTORY
    if history.is_file():
        with history.open() as f:
            header = f.readline().strip().split(",")
            if "epoch_seconds" in header:
                column = header.index("epoch_seconds")
                values = [float(line.split(",")[column]) for line in f if line.strip()]
                return float(sum(values)) if values else None
    info = Path(run_dir) / RESULT
    return json.loads(info.read_text()).get("train_seconds_this_call") if info.is_file() else None


def run_rows(out: Path, stages=None) -> list[dict]:
    """One row per run the export's manifests list: stage, model, seed, scale and test numbers."""
    rows = []
    for path in sorted((out / RUNS).glob(f"*/{MANIFEST}")):
        stage = path.parent.name
        if stages is not None and stage not in stages:
            continue
        for entry in json.loads(path.read_text()).get("runs", []):
            info = json.loads((out / entry["dir"] / RESULT).read_text())
            test = info.get("test") or {}
            rows.append({"stage": stage, "model": entry["model"], "seed": entry["seed"], "dir": entry["dir"],
                         "epochs": (info.get("config") or {}).get("epochs"), "epochs_run": info.get("epochs_run"),
                         "img_size": (entry.get("model_kwargs") or {}).get("img_size"),
                         "train_images": info.get("train_images"), "accuracy": test.get("accuracy"),
                         "f1": test.get("f1"), "n_test": test.get("n"), "seconds": training_seconds(out / entry["dir"])})
    return rows


def duration(seconds) -> str:
    if seconds is None or not math.isfinite(float(seconds)):
        return "—"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _claims(model: str) -> dict:
    return {"hafem": hafem_paper.CLAIMS, "lanmsff": lanmsff_paper.CLAIMS}.get(model, {})


def _measured(measurements: dict, metric: str, model: str) -> str | None:
    entry = measurements.get(f"{metric}:{model}")
    if not isinstance(entry, dict) or entry.get("ours") is None:
        return None
    text = f"{entry['ours']:.1f}"
    if entry.get("low") is not None and entry.get("high") is not None:
        text += f" [{entry['low']:.1f}, {entry['high']:.1f}]"
    return text


def _per_seed(values: list[float]) -> str:
    """Each seed's test accuracy (%), in seed order, with their sample sd: "61.2 / 62.0 / 63.1 (sd 1.0)"."""
    values = [100 * v for v in values if v is not None]
    if not values:
        return "—"
    text = " / ".join(f"{v:.1f}" for v in values)
    return text + (f" (sd {np.std(values, ddof=1):.1f})" if len(values) > 1 else " (1 seed)")


def _spread(values: list[float]) -> str:
    values = [100 * v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def table_rows(results_root: str | os.PathLike) -> list[dict]:
    """One row per committed ``results/<dataset>/`` folder and paper model (stages 01 and 02), its
    cells as text under :data:`TABLE_COLUMNS` plus ``folder`` (the folder's name): the scale (epochs, with
    where early stopping ended them; image size; seed count), test accuracy and macro-F1 (% — the
    seed-mean and its [low, high] interval over the test images from the folder's ``measurements.json``
    when it has one, else the mean ± sample sd over seeds), each seed's accuracy with their sample sd
    (the spread over seeds, beside the interval over images), the leak-free accuracy (``measurements.json``), the paper's claim
    for that dataset and the training time summed over seeds. Folders without ``provenance.json``
    are not results and are skipped."""
    results_root = Path(results_root)
    out = []
    folders = sorted(p for p in results_root.glob("[!.]*") if p.is_dir() and (p / PROVENANCE).is_file())
    for folder in folders:
        dataset = json.loads((folder / PROVENANCE).read_text()).get("dataset") or folder.name
        measured = folder / MEASUREMENTS
        measurements = json.loads(measured.read_text()) if measured.is_file() else {}
        rows = run_rows(folder, PAPER_STAGES)
        for stage in PAPER_STAGES:
            group = [r for r in rows if r["stage"] == stage]
            if not group:
                continue
            model = group[0]["model"]
            epochs = sorted({r["epochs"] for r in group if r["epochs"] is not None})
            ran = sorted({r["epochs_run"] for r in group if r["epochs_run"] is not None})
            scale = f"{'/'.join(map(str, epochs)) or '?'} epoch{'' if epochs == [1] else 's'}"
            if ran and ran != epochs:
                scale += f" (stopped at {ran[0]}" + (f"–{ran[-1]}" if len(ran) > 1 else "") + ")"
            sizes = sorted({r["img_size"] for r in group if r["img_size"] is not None})
            scale += f" · {'/'.join(map(str, sizes)) or '?'} px · {len(group)} seed{'s' if len(group) > 1 else ''}"
            accuracy = _measured(measurements, "accuracy", model) or _spread([r["accuracy"] for r in group])
            f1 = (_measured(measurements, "macro_f1", model) or _measured(measurements, "f1", model)
                  or _spread([r["f1"] for r in group]))
            claim = _claims(model).get(dataset, {}).get("accuracy")
            seconds = [r["seconds"] for r in group if r["seconds"] is not None]
            out.append(dict(zip(TABLE_COLUMNS, (dataset, model, scale, accuracy,
                                          _per_seed([r["accuracy"] for r in sorted(group, key=lambda r: r["seed"])]),
                                          _measured(measurements, "accuracy_leakfree", model) or "—", f1,
                                          "—" if claim is None else f"{claim:g}",
                                          duration(sum(seconds)) if seconds else "—")), folder=folder.name))
    return out


def readme_table(results_root: str | os.PathLike) -> str:
    """:func:`table_rows` as a markdown table for README.md, each dataset linked to its folder's
    README (or a sentence in italics when nothing is committed)."""
    results_root = Path(results_root)
    rows = table_rows(results_root)
    if not rows:
        return f"*{EMPTY}*"
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for row in rows:
        cells = [row[c] for c in TABLE_COLUMNS]
        cells[0] = f"[{row['folder']}]({results_root.name}/{row['folder']}/README.md)"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def html_table(results_root: str | os.PathLike, link_prefix: str = "") -> str:
    """:func:`table_rows` as an HTML table (the reports' index), each dataset linked to
    ``link_prefix + <folder>/README.md``; an empty string when nothing is committed."""
    rows = table_rows(results_root)
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in TABLE_COLUMNS)
    body = []
    for row in rows:
        link = f'<a href="{html.escape(link_prefix + row["folder"])}/README.md">{html.escape(row["folder"])}</a>'
        body.append("<tr><td>" + "</td><td>".join([link, *(html.escape(row[c]) for c in TABLE_COLUMNS[1:])]) + "</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def update_readme(readme: str | os.PathLike, results_root: str | os.PathLike) -> bool:
    """Replace what lies between :data:`TABLE_BEGIN` and :data:`TABLE_END` in ``readme`` with
    :func:`readme_table`; True when the file changed. ValueError when the markers are missing
    or out of order."""
    readme = Path(readme)
    text = readme.read_text()
    start, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"{readme} has no {TABLE_BEGIN} ... {TABLE_END} block to put the results table in "
                         "(add both markers, each on its own line)")
    new = text[:start + len(TABLE_BEGIN)] + "\n" + readme_table(results_root) + "\n" + text[end:]
    if new == text:
        return False
    readme.write_text(new)
    return True
