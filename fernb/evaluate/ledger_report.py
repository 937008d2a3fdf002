"""The claims ledger as notebook 06 and the front page show it: findings first, then every check.

The ledger (:func:`fernb.papers.ledger.ledger`) has one row per check; a reader needs the
findings — one root cause each (:mod:`fernb.papers.findings`) — counted and listed before the
rows that show them, and the verdicts defined once (:data:`fernb.papers.checks.VERDICT_MEANINGS`).

- :func:`verdict_counts`: checks per paper and verdict; :func:`finding_counts`: findings per
  paper and severity;
- :func:`vocabulary_text`: the verdicts, each defined once, as Markdown;
- :func:`write_ledger`: ``claims.csv`` (one row per check, with its stable ``check_id``,
  ``finding`` and ``severity``), ``claims.json``, ``findings.csv`` and ``claims.html`` (findings
  first, then each paper's checks, the vocabulary on top);
- :func:`ledger_text`: notebook 06's count of the ledger;
- :func:`statistics_metrics`: notebook 06's ``metrics.json``, findings included, which the
  front page (:mod:`fernb.workbook.index_page`) reads.
"""
from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fernb.papers import checks as ck
from fernb.papers.claim import FLAG_VERDICTS
from fernb.papers.findings import SEVERITIES
from fernb.papers.ledger import findings_table
from fernb.workbook.report import write_json

__all__ = ["verdict_counts", "finding_counts", "vocabulary_text", "write_ledger", "ledger_text", "statistics_metrics",
           "check_evidence", "undecided", "FERPLUS_PROTOCOL_CHECK"]

# The check that answers which FERPlus label rule and test set LANMSFF's tables fit (notebook 06 prints it).
FERPLUS_PROTOCOL_CHECK = "lanmsff-s4a-ferplus--rule-that-fits"

_COLOURS = {"consistent": "#e6f4ea", "reproduced": "#cdeccf", "plausible": "#eef6ee", "inconsistent": "#fde2e1",
            "implausible": "#fbd0cc", "not reproduced": "#fce8d5", "cannot check": "#f4f4f4",
            "not testable at this scale": "#f1f1f1", "not testable here": "#f1f1f1"}


def verdict_counts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Checks per paper and verdict (columns in :data:`fernb.papers.checks.VERDICTS` order), and
    the claims behind them."""
    table = ledger.pivot_table(index="paper", columns="verdict", values="check_id", aggfunc="count", fill_value=0)
    table = table.reindex(columns=[v for v in ck.VERDICTS if v in table.columns])
    table["checks"] = table.sum(axis=1)
    table["claims"] = ledger.groupby("paper")["id"].nunique()
    return table


def finding_counts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Findings per paper and severity (columns in :data:`fernb.papers.findings.SEVERITIES`
    order, every severity shown), with the total; then per verdict that flags
    (:data:`fernb.papers.claim.FLAG_VERDICTS`) the findings shown by at least one such check, and
    the checks that show them all."""
    found = findings_table(ledger)
    papers = list(dict.fromkeys(ledger["paper"]))
    table = (found.pivot_table(index="paper", columns="severity", values="finding", aggfunc="count", fill_value=0)
             if len(found) else pd.DataFrame(index=papers))
    table = table.reindex(index=papers, columns=list(SEVERITIES), fill_value=0).fillna(0).astype(int)
    table["findings"] = table.sum(axis=1)
    flagged = ledger[ledger["finding"].notna()]
    for verdict in FLAG_VERDICTS:
        shown = flagged[flagged["verdict"] == verdict].groupby("paper")["finding"].nunique()
        table[f"findings with {verdict} checks"] = shown.reindex(papers).fillna(0).astype(int)
    table["checks flagged"] = found.groupby("paper")["checks"].sum().reindex(papers).fillna(0).astype(int)
    return table


def _vocabulary() -> list[tuple[str, list[tuple[str, str]]]]:
    """Each kind of check with its verdicts, each verdict defined at its first kind only (a
    verdict two kinds share, *cannot check*, points back to it)."""
    seen, out = {}, []
    for kind, verdicts in ck.VERDICTS_BY_KIND.items():
        rows = []
        for v in verdicts:
            rows.append((v, f"as for {seen[v]} checks." if v in seen else ck.VERDICT_MEANINGS[v]))
            seen.setdefault(v, kind)
        out.append((kind, rows))
    return out


def check_evidence(ledger: pd.DataFrame, check_id: str) -> str:
    """One check's evidence, by its stable id; KeyError naming the id when the ledger has none."""
    rows = ledger.loc[ledger["check_id"] == check_id, "evidence"]
    if rows.empty:
        raise KeyError(f"no check {check_id!r} in the ledger")
    return str(rows.iloc[0])


def undecided(ledger: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The checks the papers do not let us decide (*cannot check*): a heading with their count,
    and their evidence by check id."""
    rows = ledger[ledger["verdict"] == "cannot check"]
    return (f"### What the papers do not let us check ({len(rows)} checks)",
            rows[["check_id", "evidence"]].set_index("check_id"))


def vocabulary_text() -> str:
    """Every verdict defined once, grouped by the kind of check that gives it, as Markdown."""
    lines = []
    for kind, rows in _vocabulary():
        lines.append(f"**{kind.capitalize()}**")
        lines += [f"- *{v}*: {meaning}" for v, meaning in rows]
    return "\n".join(lines)


def _vocabulary_html() -> str:
    parts = []
    for kind, rows in _vocabulary():
        items = "".join(f"<li><b>{html.escape(v)}</b>: {html.escape(meaning)}</li>" for v, meaning in rows)
        parts.append(f"<h3>{html.escape(kind.capitalize())}</h3><ul>{items}</ul>")
    return "".join(parts)


def _findings_html(found: pd.DataFrame) -> str:
    items = []
    for r in found.itertuples(index=False):
        ids = "".join(f"<a href='#{html.escape(i)}'><code>{html.escape(i)}</code></a> " for i in r.check_ids.split())
        items.append(f"<li id='{html.escape(r.finding)}'><b>{html.escape(r.paper)}: {html.escape(r.title)}</b> "
                     f"<i>({html.escape(r.severity)}; {html.escape(r.verdicts)}; {r.claims} claim"
                     f"{'s' if r.claims != 1 else ''})</i><br>{html.escape(r.summary)}<br><small>{ids}</small></li>")
    return "<ol>" + "".join(items) + "</ol>"


def write_ledger(ledger: pd.DataFrame, folder: str | os.PathLike, title: str = "Claims ledger") -> dict[str, Path]:
    """Write ``claims.csv`` (one row per check), ``claims.json`` (records), ``findings.csv`` (one row
    per finding, :func:`fernb.papers.ledger.findings_table`) and ``claims.html`` into ``folder``:
    the findings counted and listed first, the verdicts defined, then each paper's checks,
    coloured by verdict, each row anchored by its check id."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / "claims.csv", "json": folder / "claims.json", "findings": folder / "findings.csv",
             "html": folder / "claims.html"}
    ledger.to_csv(paths["csv"], index=False)
    write_json(paths["json"], json.loads(ledger.to_json(orient="records")))
    found = findings_table(ledger)
    found.to_csv(paths["findings"], index=False)
    parts = [f"<h1>{html.escape(title)}</h1>",
             "<p>Every numeric claim of both papers, one row per check. A check that finds something wrong belongs to "
             "a <b>finding</b>, one root cause: the findings come first, counted per paper and severity; the checks "
             "follow. Measured numbers are labelled with their dataset and scale; nothing here is typed by hand.</p>",
             "<h2>Findings</h2>", finding_counts(ledger).to_html(classes="counts"), _findings_html(found),
             "<h2>The verdicts</h2>", _vocabulary_html(), "<h2>Checks per paper and verdict</h2>",
             verdict_counts(ledger).to_html(classes="counts")]
    for paper, rows in ledger.groupby("paper", sort=False):
        body = []
        for r in rows.itertuples(index=False):
            ours = "" if r.ours is None or (isinstance(r.ours, float) and math.isnan(r.ours)) else f"{r.ours:.4g}"
            finding = (f"<a href='#{html.escape(r.finding)}'>{html.escape(r.finding)}</a>"
                       if isinstance(r.finding, str) else "")
            body.append(f"<tr id='{html.escape(r.check_id)}' style='background:{_COLOURS.get(r.verdict, '#fff')}'>"
                        f"<td>{html.escape(r.where)}</td><td>{html.escape(r.claim)}</td>"
                        f"<td>{html.escape(str(r.stated))}</td><td>{r.kind}</td><td><b>{r.verdict}</b></td>"
                        f"<td>{html.escape(str(r.evidence))}</td><td>{finding}</td><td>{ours}</td></tr>")
        parts.append(f"<h2>{html.escape(paper)}</h2><table><thead><tr><th>where</th><th>claim</th><th>stated</th>"
                     "<th>check</th><th>verdict</th><th>evidence</th><th>finding</th><th>ours</th></tr></thead><tbody>"
                     + "".join(body) + "</tbody></table>")
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>" + html.escape(title) + "</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:90em;color:#222}"
            "table{border-collapse:collapse;width:100%;margin-bottom:2em}td,th{border-bottom:1px solid #ddd;"
            "padding:.3em .5em;vertical-align:top;text-align:left;font-size:.9em}li{margin-bottom:.6em}</style></head>"
            "<body>" + "".join(parts) + "</body></html>")
    paths["html"].write_text(page, encoding="utf-8")
    return paths


def ledger_text(ledger: pd.DataFrame, printed_numbers: int, measured: Mapping) -> str:
    """Notebook 06's count of the ledger: findings per paper, then claims, checks, the numbers the
    papers' tables print (:func:`fernb.papers.ledger.printed_numbers`) and the measurements
    filled, with links to its files."""
    counts = finding_counts(ledger)
    per_paper = "; ".join(f"{paper} {int(row['findings'])} ({int(row['checks flagged'])} checks)"
                          for paper, row in counts.iterrows())
    return (f"**{int(counts['findings'].sum())} findings** — {per_paper} — from **{ledger['id'].nunique()} claims, "
            f"{len(ledger)} checks** ({printed_numbers} numbers printed in the papers' tables, each covered by its "
            f"row's claim). Measurements filled here: {len(measured)}. The whole ledger: [claims.html](claims.html) "
            "(also `claims.csv`, `findings.csv`, `claims.json`).")


def statistics_metrics(*, models: int, comparisons: pd.DataFrame, ledger: pd.DataFrame, measured: Mapping,
                       printed_numbers: int, seconds: float) -> dict:
    """Notebook 06's ``metrics.json``: the models and comparisons (and how many resolve a
    difference); the ledger's findings (in all, per paper and severity, and each with its
    title, severity and checks), claims, checks and checks per verdict (every verdict of
    :data:`fernb.papers.checks.VERDICTS`, zeros included) and per paper; the notebook's time."""
    found = findings_table(ledger)
    return {
        "models": int(models), "comparisons": int(len(comparisons)),
        "resolved": int((comparisons["verdict"] != "no resolved difference").sum()) if len(comparisons) else 0,
        "findings": int(len(found)), "claims": int(ledger["id"].nunique()), "checks": int(len(ledger)),
        "printed_numbers": int(printed_numbers), "measurements": int(len(measured)),
        "findings_by_paper": {paper: {k: int(v) for k, v in row.items()}
                              for paper, row in finding_counts(ledger).iterrows()},
        "verdicts": {v: int((ledger["verdict"] == v).sum()) for v in ck.VERDICTS},
        "by_paper": {paper: {k: int(v) for k, v in row.items()} for paper, row in verdict_counts(ledger).iterrows()},
        "finding_list": found[["finding", "paper", "severity", "title", "verdicts", "checks"]].to_dict("records"),
        "seconds": seconds,
    }
