"""The reports' front page, ``reports/index.html``: the claims ledger's summary, the committed real-data
results, then one row per notebook stage with its headline numbers (``fernb index``, the ``index``
stage of ``dvc.yaml``). The stages themselves run in :mod:`fernb.workbook.stages`."""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from fernb.papers.findings import SEVERITIES
from fernb.paths import REPORTS, project_root, reports_dir
from fernb.workbook.results_table import RESULTS_DIR, html_table
from fernb.workbook.stages import notebook_of, notebook_runs


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    return str(value)


# Words for the parts of a headline key the index shows when a stage gives no label of its own.
_WORDS = {"f1": "macro-F1", "mean": "(mean)", "pt": "(points)", "batch1_fps": "FPS at batch 1"}


# The index's words for each notebook's headline keys (a stage may also give its own, in summary.json's
# "labels"); a key missing here is shown as words by readable().
HEADLINE_LABELS: dict[str, dict[str, str]] = {
    "00_data_prep": {"images": "images", "split_sizes": "train / val / test", "near_blank": "near-blank images",
                     "duplicate_groups": "groups of identical images", "cross_split_groups": "… crossing splits",
                     "linear_probe.val_accuracy": "linear probe, val accuracy", "faces.backend": "face backend",
                     "faces.pose_subsets_test.gt30": "test faces with |yaw| > 30°",
                     "faces.pose_subsets_test.gt45": "test faces with |yaw| > 45°"},
    "01_hafem": {"test.accuracy.mean": "test accuracy (seed mean)", "test.f1.mean": "test macro-F1 (seed mean)",
                 "test.balanced_accuracy.mean": "test balanced accuracy (seed mean)"},
    "03_ablations": {"seeds": "seeds per variant", "search.best_value": "search: best validation macro-F1",
                     "search.best_test_accuracy_mean": "search: best configuration's test accuracy"},
    "04_cross_dataset": {"label_rule": "label rule (contempt)", "largest_drop.model": "largest drop: model",
                         "largest_drop.target": "largest drop: target", "largest_drop_pt": "largest drop (points)"},
    "05_interpretability": {"hafem_grad_cam_mass_lift": "HAFEM Grad-CAM mass / chance",
                            "hafem_shap_mass_lift": "HAFEM SHAP mass / chance",
                            "lanmsff_grad_cam_mass_lift": "LANMSFF Grad-CAM mass / chance",
                            "lanmsff_shap_mass_lift": "LANMSFF SHAP mass / chance", "faces": "faces scored"},
    "07_fps": {"environment.device": "device", "batch1_fps.hafem_paper": "FPS, paper-sized HAFEM (batch 1)",
               "batch1_fps.lanmsff": "FPS, LANMSFF (batch 1)", "predict_fps": "fernb predict, frames per second"},
}
HEADLINE_LABELS["02_lanmsff"] = HEADLINE_LABELS["01_hafem"]


def readable(key: str, stage: str | None = None) -> str:
    """A headline key as the index shows it: :data:`HEADLINE_LABELS`' word for it in ``stage``
    (``stage@item`` reads its stage's), else its dotted parts as words (``"test.accuracy.mean"``
    → ``"test accuracy (mean)"``, ``"largest_drop_pt"`` → ``"largest drop pt"``)."""
    label = HEADLINE_LABELS.get((stage or "").partition("@")[0], {}).get(key)
    return label or " ".join(_WORDS.get(part) or part.replace("_", " ") for part in key.split("."))


LEDGER_STAGE = "06_statistics"


def _ledger_section(root: Path) -> str:
    """The claims ledger's summary for the top of the index, read from notebook 06's
    ``metrics.json``: the findings first (counted per paper and severity, then each with its
    title, severity and the checks that show it, linked to the ledger page), then the checks per
    paper and verdict; empty when 06 has not run."""
    folder = reports_dir(LEDGER_STAGE, root)
    metrics_file = folder / "metrics.json"
    if not metrics_file.is_file():
        return ""
    metrics = json.loads(metrics_file.read_text())
    page = f"{LEDGER_STAGE}/claims.html"
    has_page = (folder / "claims.html").is_file()
    by_severity = metrics.get("findings_by_paper") or {}
    severities = [s for s in SEVERITIES if any(row.get(s) for row in by_severity.values())]
    f_head = "".join(f"<th>{html.escape(s)}</th>" for s in severities)
    f_body = "".join(f"<tr><td>{html.escape(p)}</td><td>{row.get('findings', 0)}</td>"
                     + "".join(f"<td>{row.get(s, 0)}</td>" for s in severities) + "</tr>"
                     for p, row in by_severity.items())
    findings = "".join(
        f"<li><b>{html.escape(f['paper'])}</b>: "
        + (f"<a href='{page}#{html.escape(f['finding'])}'>{html.escape(f['title'])}</a>" if has_page
           else html.escape(f["title"]))
        + f" <i>({html.escape(f['severity'])}; {html.escape(str(f['verdicts']))})</i></li>"
        for f in metrics.get("finding_list", []))
    by_paper = metrics.get("by_paper") or {}
    verdicts = [v for v in (metrics.get("verdicts") or {}) if any(v in row for row in by_paper.values())]
    head = "".join(f"<th>{html.escape(v)}</th>" for v in verdicts)
    body = "".join(f"<tr><td>{html.escape(p)}</td><td>{row.get('claims', '')}</td>"
                   + "".join(f"<td>{row.get(v, 0)}</td>" for v in verdicts) + "</tr>" for p, row in by_paper.items())
    link = f'<a href="{page}">the whole ledger</a>' if has_page else "the ledger"
    n_found = metrics.get("findings", 0)
    return (f"<h2>Claims ledger</h2><p><b>{n_found} finding{'' if n_found == 1 else 's'}</b> from {metrics.get('claims')} "
            f"claims of both papers and {metrics.get('checks')} checks (consistency with the paper's own numbers, "
            f"plausibility against the published record, and our measurements) — {link}. A finding is one root "
            "cause, however many checks show it.</p>"
            f"<table><thead><tr><th>paper</th><th>findings</th>{f_head}</tr></thead><tbody>{f_body}</tbody></table>"
            f"<h3>Findings, most severe first</h3><ol>{findings}</ol>"
            f"<h3>Checks per verdict</h3>"
            f"<table><thead><tr><th>paper</th><th>claims</th>{head}</tr></thead><tbody>{body}</tbody></table>")


def _results_section(root: Path) -> str:
    """The committed real-data results (``results/<dataset>/``, :mod:`fernb.workbook.results_table`)
    for the index; empty when none is committed."""
    table = html_table(root / RESULTS_DIR, link_prefix=f"../{RESULTS_DIR.as_posix()}/")
    if not table:
        return ""
    return ("<h2>Results on real data</h2><p>The papers' models trained by <code>make real</code> (CPU scale) or "
            "<code>make paper</code> and committed under <code>results/</code> with their provenance; intervals are "
            "95 % bootstraps over the test images, the leak-free accuracy leaves out test images with a copy in the "
            f"training split. The ledger puts these beside each paper's claim.</p>{table}")


def build_index(root: str | os.PathLike | None = None) -> Path:
    """Write ``reports/index.html``, the workbook's front page: the claims ledger's summary
    (notebook 06), the committed real-data results (``results/``), then one row per notebook
    stage, linked, with its headline numbers under readable labels."""
    root = Path(root).resolve() if root else project_root()
    rows = []
    for stage in notebook_runs(root):
        folder = reports_dir(stage, root)
        summary_file = folder / "summary.json"
        page = folder / f"{notebook_of(stage)}.html"
        labels = {}
        if summary_file.is_file():
            summary = json.loads(summary_file.read_text())
            title, headline = summary.get("title", stage), summary.get("headline", {})
            labels = summary.get("labels", {})
        else:
            title, headline = stage, {"status": "not run yet"}
        link = (f'<a href="{html.escape(page.relative_to(root / REPORTS).as_posix())}">{html.escape(title)}</a>'
                if page.is_file() else html.escape(title))
        numbers = "".join(f"<tr><td>{html.escape(labels.get(k) or readable(str(k), stage))}</td><td>{html.escape(_fmt(v))}</td></tr>"
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
{_ledger_section(root)}
{_results_section(root)}
<h2>Notebooks</h2>
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
