"""The one place that knows where things live.

Everything is relative to the project root (the folder holding ``dvc.yaml``). Real
datasets are found through the ``FERNB_DATA`` environment variable (a folder holding the
archives as their publishers ship them) or an explicit path in ``params.yaml``.
"""
from __future__ import annotations

import os
from pathlib import Path

PREPARED = Path("data") / "prepared"
REPORTS = Path("reports")
RUNS = Path("runs")
SHIFT_PREFIX = "synthfer-"           # a SynthFER domain shift's dataset name: synthfer-<shift>


def project_root() -> Path:
    """``FERNB_ROOT`` if set, else the nearest folder above the cwd holding ``dvc.yaml``."""
    env = os.environ.get("FERNB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "fernb").is_dir():
            return folder
    return here


def data_dir() -> Path | None:
    """The folder of real dataset archives (``FERNB_DATA``), or None when unset."""
    env = os.environ.get("FERNB_DATA")
    return Path(env).expanduser().resolve() if env else None


def prepared_dir(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Where the prepared store of ``dataset`` lives: ``data/prepared/<dataset>/`` (notebook 00),
    or ``data/prepared/shifts/<dataset>/`` for a SynthFER shift named ``synthfer-<shift>``
    (:mod:`fernb.data.shifts`)."""
    base = (Path(root) if root is not None else project_root()) / PREPARED
    return base / "shifts" / dataset if dataset.startswith(SHIFT_PREFIX) else base / dataset


def reports_dir(stage: str, root: str | os.PathLike | None = None) -> Path:
    """Where a stage writes its metrics, figures, tables and HTML: ``reports/<stage>/``, and
    ``reports/<stage>/<item>/`` for one item of a stage DVC repeats (``00_data_prep@fer2013``)."""
    name, _, item = stage.partition("@")
    base = (Path(root) if root is not None else project_root()) / REPORTS / name
    return base / item if item else base
