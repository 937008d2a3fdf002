"""What fernb predict writes (fernb.realtime.annotate): rows per face, CSV and JSON Lines, annotated images."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fernb.faces.backends import Face
from fernb.faces.pipeline import FaceResult
from fernb.realtime.annotate import COLUMNS, Annotator, RowWriter, draw, frame_rows
from fernb.realtime.media import Frame, MediaSource

CLASSES = ("happy", "sad")
SOURCE = MediaSource("image", Path("photo.png"))


def _frame(image=True) -> Frame:
    return Frame(SOURCE, 0, None, np.zeros((200, 200, 3), np.uint8) if image else None)


def _faces() -> list[tuple[Face, FaceResult]]:
    crop = np.zeros((8, 8), np.uint8)
    rejected = (Face(box=np.array([10.04, 20.0, 50.0, 60.0])), FaceResult("bad_fit", detail="implausible"))
    scored = (Face(box=np.array([100.0, 100.0, 40.0, 40.0]), eyes=np.array([[110.0, 115.0], [130.0, 115.0]])),
              FaceResult("ok", crop, alignment="eyes"))
    return [rejected, scored]


def test_a_frame_without_faces_is_one_row_that_says_why():
    (row,) = frame_rows(_frame(), [], np.zeros((0, 2)), CLASSES)
    assert list(row) == [*COLUMNS, "prob_happy", "prob_sad"]          # every column, in order
    assert row["status"] == "no_face" and row["prediction"] is None and row["source"] == "photo.png"
    (row,) = frame_rows(_frame(image=False), [], np.zeros((0, 2)), CLASSES)
    assert row["status"] == "unreadable"


def test_only_ok_faces_get_probabilities_in_order():
    rejected, scored = frame_rows(_frame(), _faces(), np.array([[0.2, 0.8]]), CLASSES)
    assert (rejected["status"], rejected["prediction"], rejected["prob_happy"]) == ("bad_fit", None, None)
    assert (rejected["x"], rejected["face"]) == (10.0, 0)                                  # rounded to 0.1 px
    assert scored["prediction"] == "sad" and scored["prob_sad"] == pytest.approx(0.8)
    assert scored["alignment"] == "eyes" and scored["landmarks"] == [[110.0, 115.0], [130.0, 115.0]]


def test_row_writer_writes_csv_and_json_lines(tmp_path):
    rows = frame_rows(_frame(), _faces(), np.array([[0.2, 0.8]]), CLASSES)
    writer = RowWriter([*COLUMNS, "prob_happy", "prob_sad"], tmp_path / "out" / "rows.csv", tmp_path / "rows.jsonl")
    writer.write(rows)
    writer.close()
    assert writer.paths == [tmp_path / "out" / "rows.csv", tmp_path / "rows.jsonl"]
    table = pd.read_csv(tmp_path / "out" / "rows.csv")
    assert table["status"].tolist() == ["bad_fit", "ok"] and json.loads(table.at[1, "landmarks"])[1] == [130.0, 115.0]
    lines = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert lines == json.loads(json.dumps(rows))


def test_draw_marks_ok_faces_green_and_rejected_red():
    rows = frame_rows(_frame(), _faces(), np.array([[0.2, 0.8]]), CLASSES)
    out = draw(np.zeros((200, 200, 3), np.uint8), rows)
    assert tuple(out[140, 100]) == (60, 200, 60)        # the ok face's box, bottom-left corner (BGR)
    assert tuple(out[80, 10]) == (40, 40, 230)           # the rejected one's


def test_annotator_checks_its_target_and_names_files_after_their_sources(tmp_path):
    with pytest.raises(ValueError, match="expected a file ending"):
        Annotator(tmp_path / "out.avi", single=SOURCE)       # an image input is annotated as an image
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="into a folder"):
        Annotator(tmp_path / "file", single=None)
    annotator = Annotator(tmp_path / "annotated", single=None)
    rows = frame_rows(_frame(), [], np.zeros((0, 2)), CLASSES)
    annotator.write(_frame(), rows)
    annotator.write(_frame(), rows)                           # the same name twice: numbered, not overwritten
    annotator.write(_frame(image=False), rows)               # nothing to draw on
    assert [p.name for p in annotator.written] == ["photo.png", "photo-1.png"]
    assert cv2.imread(str(tmp_path / "annotated" / "photo-1.png")).shape == (200, 200, 3)
