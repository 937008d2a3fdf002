"""JSON records written safely (:mod:`fernb.jsonio`): what JSON cannot hold becomes what it can,
and a write either lands whole or leaves the old file alone."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fernb.jsonio import atomic_write, json_safe, write_json
from fernb.workbook import report


def test_json_safe_turns_numpy_nan_and_paths_into_plain_json():
    value = {1: np.float32(0.5), "a": (np.int64(3), [np.nan, math.inf, -math.inf]), "p": Path("runs") / "x",
             "arr": np.array([[1, 2], [3, 4]], dtype=np.uint8), "b": np.bool_(True), "s": "text", "n": None}
    out = json_safe(value)
    assert out == {"1": 0.5, "a": [3, [None, None, None]], "p": "runs/x", "arr": [[1, 2], [3, 4]], "b": True,
                   "s": "text", "n": None}
    assert type(out["1"]) is float and type(out["a"][0]) is int and type(out["b"]) is bool
    assert type(out["arr"][0][0]) is int
    json.dumps(out, allow_nan=False)   # strict JSON: no NaN left anywhere


def test_json_safe_leaves_plain_values_alone():
    assert json_safe(2.25) == 2.25 and json_safe("x") == "x" and json_safe([]) == [] and json_safe({}) == {}
    assert json_safe(np.array([np.nan, 1.5])) == [None, 1.5]


def test_write_json_writes_indented_json_and_no_temporary_file(tmp_path):
    path = tmp_path / "deep" / "folder" / "result.json"
    assert write_json(path, {"acc": np.float64(0.75), "bad": np.nan}) == path
    assert path.read_text() == '{\n  "acc": 0.75,\n  "bad": null\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")

    def half_then_crash(tmp: Path):
        tmp.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(path, half_then_crash)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]   # the temporary file is gone
    atomic_write(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new"


def test_the_reports_write_through_the_same_functions():
    # one object per name: fernb.workbook.report hands on fernb.jsonio's, it does not define its own
    assert report.write_json is write_json and report.json_safe is json_safe
