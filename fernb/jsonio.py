"""JSON records written safely: the one way every phase turns its numbers into a file.

The trainer (``result.json``, run manifests), :mod:`fernb.metrics` and the reports
(:mod:`fernb.workbook.report`: ``metrics.json``, ``summary.json``) all write through here, so
this module sits below every phase and imports none of them.

- :func:`json_safe`: NumPy scalars and arrays to plain Python, NaN and ±inf to ``None``
  (JSON has no NaN), paths to strings;
- :func:`write_json`: indented JSON, written atomically;
- :func:`atomic_write`: any file, written to a temporary name and renamed into place, so an
  interrupted stage never leaves a truncated file that DVC would mistake for a result.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["json_safe", "write_json", "atomic_write"]


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (its folder made), then rename it
    to ``path``; the temporary file is removed whatever happens. Returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def json_safe(value):
    """NumPy scalars/arrays to JSON-ready Python; NaN/inf to None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike, value) -> Path:
    """Write ``value`` as indented JSON, atomically."""
    text = json.dumps(json_safe(value), indent=2) + "\n"
    return atomic_write(Path(path), lambda tmp: tmp.write_text(text))
