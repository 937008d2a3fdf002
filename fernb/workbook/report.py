"""What a notebook leaves behind under ``reports/<stage>/``.

    metrics.json       every number the notebook computed (DVC ``metrics``)
    summary.json       title and headline numbers, read by the HTML index
    plots/<name>.csv   tables DVC can draw (``dvc plots show``)
    figures/<name>.png every figure the notebook shows
    figures/captions.json  each figure's title, by name (the reader's site captions it: fernb.workbook.site)
    tables/<name>.csv  every table the notebook shows
    <stage>.ipynb/html the executed notebook and its HTML export (written by the runner)

Writes are atomic (temporary file, then rename: :func:`fernb.jsonio.atomic_write`) so an
interrupted stage never leaves a truncated metrics file that DVC would mistake for a result.
:func:`~fernb.jsonio.json_safe` and :func:`~fernb.jsonio.write_json` live in :mod:`fernb.jsonio`,
below every phase, so that the trainer writes its records without reaching into the reports.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from fernb.jsonio import atomic_write, json_safe, write_json
from fernb.paths import reports_dir


def dotted_get(tree: dict, key: str):
    """``tree["a"]["b"]`` for ``key="a.b"``; KeyError naming the key when a part is missing."""
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


CAPTIONS = "captions.json"   # figures/captions.json: {figure name: caption}


def figure_title(fig) -> str:
    """A matplotlib figure's title: its suptitle, else its axes' titles joined (empty when none has one)."""
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        return suptitle.get_text().strip()
    return " · ".join(t for t in (ax.get_title().strip() for ax in fig.axes) if t)


class Report:
    """The output folder of one pipeline stage (``reports/<stage>/``, or ``reports/<stage>/<item>/``
    for ``stage@item``, :func:`fernb.paths.reports_dir`); ``root`` replaces ``reports/``."""

    def __init__(self, stage: str, root: str | os.PathLike | None = None):
        self.stage = stage
        if root is None:
            self.dir = reports_dir(stage)
        else:
            name, _, item = stage.partition("@")
            self.dir = Path(root) / name / item if item else Path(root) / name
        self.dir.mkdir(parents=True, exist_ok=True)

    def figure(self, fig, name: str, dpi: int = 110):
        """Save ``fig`` as ``figures/<name>.png`` and return it (so a cell can display it); its title
        (:func:`figure_title`) goes into ``figures/captions.json`` under ``name``."""
        atomic_write(self.dir / "figures" / f"{name}.png",
                      lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))
        captions_file = self.dir / "figures" / CAPTIONS
        captions = json.loads(captions_file.read_text()) if captions_file.is_file() else {}
        captions[name] = figure_title(fig) or name.replace("_", " ")
        write_json(captions_file, captions)
        return fig

    def table(self, frame, name: str, index: bool = True):
        """Save a DataFrame as ``tables/<name>.csv`` and return it."""
        atomic_write(self.dir / "tables" / f"{name}.csv", lambda tmp: frame.to_csv(tmp, index=index))
        return frame

    def plot_data(self, frame, name: str):
        """Save a long-format DataFrame as ``plots/<name>.csv`` for ``dvc plots``."""
        atomic_write(self.dir / "plots" / f"{name}.csv", lambda tmp: frame.to_csv(tmp, index=False))
        return frame

    def metrics(self, values: dict, headline: list[str] | tuple[str, ...] = (), title: str | None = None,
                labels: dict[str, str] | None = None) -> dict:
        """Write ``metrics.json`` (all values) and ``summary.json`` (title + ``headline`` keys).

        Headline keys may be dotted paths into nested dicts (``"counts.train"``). ``labels``:
        readable names for headline keys, shown by the index instead of the keys.
        """
        values = json_safe(values)
        picked = {}
        for key in headline:
            try:
                picked[key] = dotted_get(values, key)
            except KeyError:
                raise KeyError(f"headline metric {key!r} is not in the metrics of stage {self.stage}") from None
        write_json(self.dir / "metrics.json", values)
        summary = {"stage": self.stage, "title": title or self.stage, "headline": picked}
        if labels:
            summary["labels"] = {k: v for k, v in labels.items() if k in picked}
        write_json(self.dir / "summary.json", summary)
        return values
