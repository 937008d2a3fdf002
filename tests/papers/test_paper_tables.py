"""The papers' tables as data (fernb.papers.lanmsff.TABLES, fernb.papers.hafem.TABLE2), checked
against the papers' text where it is present (../shared/papers, absent in CI: those tests skip)
and for their shape everywhere."""
from __future__ import annotations

import numbers
import re
from pathlib import Path

import pytest

from fernb.data import DATASETS
from fernb.labels import CANONICAL
from fernb.papers import hafem, lanmsff

PAPERS = Path(__file__).resolve().parents[2].parent / "shared" / "papers"
ROMANS = ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
KINDS = {"per_class", "confusion", "comparison"}
ABBREV = {"An": "anger", "Di": "disgust", "Fe": "fear", "Ha": "happy", "Sa": "sad", "Su": "surprise",
          "Ne": "neutral", "Co": "contempt"}
# Table XII's printed row labels.
ABLATION_ROWS = {"Whole model": "whole", "Whole model without PWFS": "-PWFS",
                 "Whole model without MassAtt": "-MassAtt", "Whole model without MassAtt and PWFS": "-both"}
HEADERS = {"Whole": "whole", "Overall": "overall", "Acc (%)": "accuracy", "Params": "params_k", "ID": "ID",
           "Var": "Var"}
# Leading cells of a printed row that are its label: a confusion row prints "Actual" then the class.
LABEL_CELLS = {"per_class": 1, "comparison": 1, "confusion": 2}
VALUE = re.compile(r"-|-?\d+(?:\.\d+)?K?")   # a whole cell; "-90°", ">30°" (degree sign) are labels


def _paper(name: str) -> str:
    path = PAPERS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the papers' text is not part of the repository)")
    return path.read_text(encoding="utf-8")


def _number(cell: str):
    """A printed number: "-" is None, "8700K" is 8700 (thousands, as printed), "0" an int, "0.15" a float."""
    if cell == "-":
        return None
    cell = cell.removesuffix("K")
    return float(cell) if "." in cell else int(cell)


def _block(text: str, roman: str) -> list[list[str]]:
    """The body of Table ``roman``: the tab-separated lines after its heading and caption, up to
    the next blank line, each split into cells (trailing empty cells dropped)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"TABLE {roman}"]
    assert len(starts) == 1, f"TABLE {roman} heading found {len(starts)} times"
    i = starts[0] + 1
    while lines[i].strip():          # the caption
        i += 1
    while not lines[i].strip():
        i += 1
    body = []
    while i < len(lines) and lines[i].strip():
        cells = [c.strip() for c in lines[i].split("\t")]
        while cells and not cells[-1]:
            cells.pop()
        body.append(cells)
        i += 1
    return body


def _split(body: list[list[str]], kind: str):
    """(header rows, data rows): a data row has a label and only printed numbers after it; a
    header row has no number after its label cells; anything else is a parse failure."""
    n = LABEL_CELLS[kind]
    headers, rows = [], []
    for cells in body:
        label, rest = cells[:n], cells[n:]
        numeric = [bool(VALUE.fullmatch(c)) for c in rest]
        if any(label) and rest and all(numeric):
            rows.append(cells)
        else:
            assert not any(numeric), f"a row mixes labels and numbers: {cells}"
            assert not rows, f"a header row after the data rows: {cells}"
            headers.append(cells)
    return headers, rows


def _row_label(cell: str):
    """(label as TABLES holds it, reference number or None)."""
    if m := re.fullmatch(r"(-?\d+)°", cell):
        return int(m[1]), None
    if m := re.fullmatch(r">(\d+)°", cell):
        return f">{m[1]}", None
    if cell == "Overall":
        return "overall", None
    if cell in ABBREV:
        return ABBREV[cell], None
    if cell in ABLATION_ROWS:
        return ABLATION_ROWS[cell], None
    if m := re.fullmatch(r"(.+?) \[(\d+)\]", cell):
        return m[1], m[2]
    return cell, None


def _column_label(cell: str):
    if cell in ABBREV:
        return ABBREV[cell]
    if m := re.fullmatch(r"([+-]?\d+)°", cell):
        return int(m[1])
    if m := re.fullmatch(r"Pose \$\\geq (\d+)\^\\circ\$", cell):
        return f">={m[1]}"
    return HEADERS[cell]


def _columns(headers: list[list[str]], n_label: int, width: int) -> list:
    """Each value column's label: the lowest header row that prints one there (a spanning
    "ACC (%)" or "Predict" above is overridden; "Var" sits in the upper row only)."""
    labels = []
    for j in range(n_label, n_label + width):
        cell = next(row[j] for row in reversed(headers) if j < len(row) and row[j])
        labels.append(_column_label(cell))
    return labels


def _typed(values):
    return [(type(v).__name__, v) for v in values]


@pytest.mark.parametrize("roman", ROMANS)
def test_lanmsff_table_is_transcribed_as_printed(roman):
    text = _paper("LANMSFF.txt")
    table = lanmsff.TABLES[roman]
    n = LABEL_CELLS[table["kind"]]
    headers, rows = _split(_block(text, roman), table["kind"])
    printed = [_number(c) for row in rows for c in row[n:]]
    ours = [v for row in table["values"] for v in row]
    assert _typed(printed) == _typed(ours)            # every number, in reading order, int/float as printed
    assert {len(row) for row in rows} == {n + len(table["columns"])}
    labels = [_row_label(row[n - 1]) for row in rows]
    assert [label for label, _ in labels] == table["index"]
    if "refs" in table:
        assert [ref for _, ref in labels] == table["refs"]
    if table["kind"] == "confusion":
        assert [row[0] for row in rows] == ["Actual"] + [""] * (len(rows) - 1)
        assert headers[0][n:] == ["Predict"]
    assert _columns(headers, n, len(table["columns"])) == table["columns"]


def test_hafem_table2_is_transcribed_as_printed():
    lines = _paper("HAFEM.txt").splitlines()
    start = lines.index("Table 2. Dataset Summary Statistics") + 1
    while not lines[start].strip():
        start += 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    header, rule, *body = rows
    assert header == ["Dataset", "Year", "Images/Clips", "Classes", "Subjects", "Characteristics"]
    assert all(set(c) <= {"-"} for c in rule)
    keys = {"FER2013": "fer2013", "RAF-DB": "rafdb", "AffectNet": "affectnet", "FERPlus": "ferplus", "CK+": "ckplus"}
    printed = []
    for dataset, year, count, classes, subjects, characteristics in body:
        number, unit = re.fullmatch(r"([\d,]+) (images|sequences)", count).groups()
        printed.append({"dataset": keys[dataset], "year": int(year), "count": int(number.replace(",", "")),
                        "unit": unit, "classes": int(classes),
                        "subjects": None if subjects == "N/A" else int(subjects),
                        "characteristics": characteristics})
    assert printed == hafem.TABLE2
    assert [_typed(r.values()) for r in printed] == [_typed(r.values()) for r in hafem.TABLE2]


# ---------------------------------------------------------------- no paper text needed


def test_lanmsff_tables_are_the_eleven_numeric_tables():
    assert tuple(lanmsff.TABLES) == ROMANS
    assert "TABLES" in lanmsff.__all__ and "TABLE2" in hafem.__all__


@pytest.mark.parametrize("roman", ROMANS)
def test_lanmsff_table_is_rectangular(roman):
    table = lanmsff.TABLES[roman]
    assert {"title", "kind", "index", "columns", "values"} <= set(table) and table["kind"] in KINDS
    assert table["title"] and len(table["values"]) == len(table["index"])
    assert all(len(row) == len(table["columns"]) for row in table["values"])
    assert len(set(map(repr, table["index"]))) == len(table["index"])
    assert len(set(map(repr, table["columns"]))) == len(table["columns"])
    if "refs" in table:
        assert len(table["refs"]) == len(table["index"])
        assert all(ref is None or (isinstance(ref, str) and ref.isdigit()) for ref in table["refs"])
    for value in (v for row in table["values"] for v in row):
        assert value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))


@pytest.mark.parametrize("roman", ROMANS)
def test_lanmsff_class_names_are_canonical(roman):
    table = lanmsff.TABLES[roman]
    if table["kind"] == "per_class":
        assert table["columns"][0] == "whole" and set(table["columns"][1:]) <= set(CANONICAL)
        assert table["index"][-1] == "overall"
    elif table["kind"] == "confusion":
        assert len(table["index"]) == len(table["columns"])            # square
        assert set(table["index"]) == set(table["columns"]) <= set(CANONICAL)
    else:
        assert not set(map(str, table["index"])) & set(CANONICAL)


def test_hafem_table2_rows():
    assert [r["dataset"] for r in hafem.TABLE2] == ["fer2013", "rafdb", "affectnet", "ferplus", "ckplus"]
    assert {r["dataset"] for r in hafem.TABLE2} <= set(DATASETS)
    for row in hafem.TABLE2:
        assert set(row) == {"dataset", "year", "count", "unit", "classes", "subjects", "characteristics"}
        assert row["unit"] in ("images", "sequences") and row["classes"] in (7, 8)
        assert all(type(row[k]) is int for k in ("year", "count", "classes"))
        assert row["subjects"] is None or type(row["subjects"]) is int
