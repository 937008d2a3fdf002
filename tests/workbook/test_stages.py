"""Notebooks as stages: parameter resolution, papermill execution, failure reporting, index."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from fernb.workbook import index_page, stages
from fernb.workbook.report import Report


def _project(tmp_path, params, stage_params, cells=None):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "01_demo": {"cmd": "fernb run 01_demo", "params": stage_params},
        "other": {"cmd": "echo hi"},
    }}))
    if cells is not None:
        (tmp_path / "notebooks").mkdir()
        nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, tmp_path / "notebooks" / "01_demo.ipynb")
    return tmp_path


def test_parameters_are_exactly_the_declared_keys(tmp_path):
    """One parameter per declared entry: a key as its value, a section as one dict."""
    root = _project(tmp_path, {"a": {"x": 1, "y": 2}, "b": {"z": {"deep": 3}}, "c": {"unused": 4}},
                    ["a.x", "b"])
    assert stages.stage_parameters("01_demo", root) == {"x": 1, "b": {"z": {"deep": 3}}}
    assert stages.declared_keys("01_demo", root) == {"a.x": 1, "b": {"z": {"deep": 3}}}


def test_two_sections_sharing_leaf_names_coexist(tmp_path):
    """What stages 03, 04 and 06 need: hafem.epochs and lanmsff.epochs side by side (the project's own
    sections, which the parameter schema checks whole)."""
    real = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
    sections = {name: real[name] for name in ("hafem", "lanmsff", "train")}
    root = _project(tmp_path, sections, ["hafem", "lanmsff", "train"])
    params = stages.stage_parameters("01_demo", root)
    assert params == sections
    changed = stages.stage_parameters("01_demo", root, {"lanmsff.epochs": 2, "device": "cpu"})
    assert changed["lanmsff"]["epochs"] == 2 and changed["hafem"]["epochs"] == real["hafem"]["epochs"]
    assert changed["train"]["device"] == "cpu"               # a bare key found in exactly one section
    assert stages.stage_parameters("01_demo", root)["lanmsff"]["epochs"] == real["lanmsff"]["epochs"]   # params.yaml unchanged
    with pytest.raises(stages.StageError, match="several sections.*hafem.epochs"):
        stages.stage_parameters("01_demo", root, {"epochs": 2})
    with pytest.raises(stages.StageError, match="section 'hafem' has no key 'nope'"):
        stages.stage_parameters("01_demo", root, {"hafem.nope": 2})
    with pytest.raises(stages.StageError, match="lanmsff.epochs = 'two': expected a whole number"):
        stages.stage_parameters("01_demo", root, {"lanmsff.epochs": "two"})


def test_overrides_are_typed_and_checked(tmp_path):
    root = _project(tmp_path, {"a": {"x": 1, "name": "s"}}, ["a.x", "a.name"])
    params = stages.stage_parameters("01_demo", root, stages.parse_overrides(["x=5", "name=fer2013"]))
    assert params == {"x": 5, "name": "fer2013"}
    with pytest.raises(stages.StageError, match="no parameter 'epochs'"):
        stages.stage_parameters("01_demo", root, {"epochs": 3})
    with pytest.raises(stages.StageError, match="NAME=VALUE"):
        stages.parse_overrides(["x"])


def test_name_collision_and_missing_key(tmp_path):
    root = _project(tmp_path, {"a": {"seed": 1}, "b": {"seed": 2}}, ["a.seed", "b.seed"])
    with pytest.raises(stages.StageError, match="both become notebook parameter 'seed'"):
        stages.stage_parameters("01_demo", root)
    root = _project(tmp_path, {"a": {"seed": 1}}, ["a.nope"])
    with pytest.raises(stages.StageError, match="a.nope"):
        stages.stage_parameters("01_demo", root)
    with pytest.raises(stages.StageError, match="no stage 'missing'"):
        stages.stage_parameters("missing", root)


def _foreach_project(tmp_path, datasets):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"datasets": datasets, "prep": {"size": 48}}))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "00_prep": {"foreach": "${datasets}", "do": {
            "cmd": "fernb run 00_prep@${item}", "meta": {"item": "dataset"}, "params": ["prep"],
            "outs": ["data/prepared/${item}", "reports/00_prep/${item}/00_prep.html"]}},
        "01_demo": {"cmd": "fernb run 01_demo", "params": ["prep.size"]},
    }}))
    return tmp_path


def test_a_foreach_stage_runs_once_per_item_and_gets_the_item_as_a_parameter(tmp_path):
    root = _foreach_project(tmp_path, ["synthfer", "fer2013"])
    assert stages.notebook_stages(root) == ["00_prep", "01_demo"]
    assert stages.notebook_runs(root) == ["00_prep@synthfer", "00_prep@fer2013", "01_demo"]
    expanded = stages.expanded_stages(root)
    assert expanded["00_prep@fer2013"]["outs"] == ["data/prepared/fer2013", "reports/00_prep/fer2013/00_prep.html"]
    assert expanded["00_prep@fer2013"]["cmd"] == "fernb run 00_prep@fer2013"
    assert stages.stage_parameters("00_prep@fer2013", root) == {"prep": {"size": 48}, "dataset": "fer2013"}
    with pytest.raises(stages.StageError, match="runs once per item"):
        stages.stage_parameters("00_prep", root)
    with pytest.raises(stages.StageError, match="no stage '00_prep@kdef'"):
        stages.stage_parameters("00_prep@kdef", root)
    from fernb.paths import reports_dir
    assert reports_dir("00_prep@fer2013", root) == root / "reports" / "00_prep" / "fer2013"
    assert stages.notebook_of("00_prep@fer2013") == "00_prep"
    Report("00_prep@fer2013", root=root / "reports").metrics({"n": 5}, headline=["n"], title="Prep FER2013")
    (root / "reports" / "00_prep" / "fer2013" / "00_prep.html").write_text("<html></html>")
    page = index_page.build_index(root).read_text()
    assert 'href="00_prep/fer2013/00_prep.html"' in page and "Prep FER2013" in page
    assert "<code>00_prep@synthfer</code>" in page and "not run yet" in page


def test_notebook_stages_are_the_fernb_run_ones(tmp_path):
    root = _project(tmp_path, {"a": {"x": 1}}, ["a.x"])
    assert stages.notebook_stages(root) == ["01_demo"]


def _cells(body):
    return [new_markdown_cell("# Demo stage"),
            new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
            new_code_cell(body)]


@pytest.mark.slow
def test_run_stage_injects_params_and_exports_html(tmp_path):
    body = ("from fernb.workbook.report import Report\n"
            "Report('01_demo').metrics({'twice': 2 * x}, headline=['twice'], title='Demo')\n"
            "print('x is', x)")
    root = _project(tmp_path, {"a": {"x": 21}}, ["a.x"], _cells(body))
    page = stages.run_stage("01_demo", root, log_output=False)
    assert page == root / "reports" / "01_demo" / "01_demo.html"
    assert "x is 21" in page.read_text()
    assert json.loads((root / "reports" / "01_demo" / "metrics.json").read_text()) == {"twice": 42}
    executed = nbformat.read(root / "reports" / "01_demo" / "01_demo.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


@pytest.mark.slow
def test_failing_cell_fails_the_stage_visibly(tmp_path):
    cells = _cells("ratio = 1 / x") + [new_markdown_cell("## never reached"), new_code_cell("y = 1")]
    root = _project(tmp_path, {"a": {"x": 0}}, ["a.x"], cells)
    with pytest.raises(stages.StageError) as err:
        stages.run_stage("01_demo", root, log_output=False)
    message = str(err.value)
    assert "ZeroDivisionError" in message
    shown = message.split("--- the cell")[1].split("--- traceback")[0]
    assert "ratio = 1 / x" in shown and "never reached" not in shown and "Demo stage" not in shown
    assert (root / "reports" / "01_demo" / "01_demo.html").is_file()  # readable post-mortem


@pytest.mark.slow
def test_cli_run_exits_non_zero_on_failure(tmp_path, monkeypatch, capsys):
    from fernb.cli import main

    root = _project(tmp_path, {"a": {"x": 0}}, ["a.x"], _cells("raise RuntimeError('boom in cell')"))
    monkeypatch.chdir(root)
    monkeypatch.setenv("FERNB_ROOT", str(root))
    assert main(["run", "01_demo", "--quiet"]) == 1
    assert "boom in cell" in capsys.readouterr().err


def test_index_links_every_stage_with_headline(tmp_path, monkeypatch):
    root = _project(tmp_path, {"a": {"x": 1}}, ["a.x"])
    Report("01_demo", root=root / "reports").metrics({"acc": 0.12345, "n": {"train": 3}},
                                                      headline=["acc", "n.train"], title="Demo & co")
    (root / "reports" / "01_demo" / "01_demo.html").write_text("<html></html>")
    page = index_page.build_index(root).read_text()
    assert 'href="01_demo/01_demo.html"' in page and "Demo &amp; co" in page
    assert "0.1235" in page and "<td>n train</td>" in page and "n.train" not in page   # keys read as words
    assert "other" not in page  # not a notebook stage
    assert "Claims ledger" not in page                                                 # notebook 06 has not run


def test_index_uses_stage_labels_and_shows_the_ledger_first(tmp_path):
    root = _project(tmp_path, {"a": {"x": 1}}, ["a.x"])
    Report("01_demo", root=root / "reports").metrics({"test": {"accuracy": {"mean": 0.5}}, "k": 2},
                                                      headline=["test.accuracy.mean", "k"], labels={"k": "faces scored"})
    ledger = root / "reports" / "06_statistics"
    ledger.mkdir(parents=True)
    (ledger / "claims.html").write_text("<html></html>")
    (ledger / "metrics.json").write_text(json.dumps({
        "claims": 3, "checks": 5, "verdicts": {"consistent": 2, "inconsistent": 3},
        "by_paper": {"HAFEM": {"claims": 3, "consistent": 2, "inconsistent": 3}},
        "findings": 1, "findings_by_paper": {"HAFEM": {"findings": 1, "presentation": 1}},
        "finding_list": [{"finding": "hafem-fps-44", "paper": "HAFEM", "severity": "presentation", "title": "F1 <b>",
                          "verdicts": "inconsistent 3", "checks": 3}]}))
    page = index_page.build_index(root).read_text()
    assert "<td>test accuracy (mean)</td>" in page and "<td>faces scored</td>" in page
    assert page.index("Claims ledger") < page.index("01_demo")          # the ledger's summary heads the page
    assert 'href="06_statistics/claims.html"' in page
    assert "<b>1 finding</b>" in page and "<td>HAFEM</td><td>1</td><td>1</td>" in page   # findings, then presentation
    assert page.index("Findings, most severe first") < page.index("Checks per verdict")   # findings before checks
    assert "F1 &lt;b&gt;</a>" in page and "06_statistics/claims.html#hafem-fps-44" in page
    assert "<td>HAFEM</td><td>3</td><td>2</td><td>3</td>" in page
    assert index_page.readable("batch1_fps.lanmsff") == "FPS at batch 1 lanmsff"
    assert index_page.readable("batch1_fps.lanmsff", "07_fps") == "FPS, LANMSFF (batch 1)"
    assert index_page.readable("images", "00_data_prep@fer2013") == "images"


def test_every_headline_key_of_the_notebooks_has_a_label():
    """The index's words cover what each notebook puts in its headline (read from the notebooks'
    source: the keys in their report.metrics(..., headline=[...]) calls where they are literal)."""
    import ast
    import json as js

    repo = Path(__file__).resolve().parents[2]
    for nb in sorted((repo / "notebooks").glob("0*.ipynb")):
        stage = nb.stem
        source = "\n".join("".join(c["source"]) for c in js.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.keyword) and node.arg == "headline" and isinstance(node.value, ast.List):
                for key in (e.value for e in node.value.elts if isinstance(e, ast.Constant)):
                    if key != "dataset" and stage != "06_statistics":
                        assert key in index_page.HEADLINE_LABELS.get(stage, {}), f"{stage}: no index label for {key!r}"


def test_report_metrics_json(tmp_path):
    import numpy as np

    report = Report("s", root=tmp_path)
    values = report.metrics({"a": np.float32(0.5), "b": float("nan"), "c": np.arange(2)}, headline=["a"])
    saved = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert saved == values == {"a": 0.5, "b": None, "c": [0, 1]}
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["headline"] == {"a": 0.5}
    with pytest.raises(KeyError, match="nope"):
        report.metrics({"a": 1}, headline=["nope"])


def test_progress_bars_collapse_to_their_last_state():
    assert stages.collapse_carriage_returns("bar 10%\rbar 50%\rbar 100%\ndone\n") == "bar 100%\ndone\n"
    assert stages.collapse_carriage_returns("a\r\nb") == "a\nb"
    assert stages.collapse_carriage_returns("plain\ntext") == "plain\ntext"


def test_stream_messages_are_joined_before_collapsing():
    from nbformat.v4 import new_output

    outputs = [new_output("stream", name="stderr", text="\rbar 1/3"), new_output("stream", name="stderr", text="\rbar 2/3"),
               new_output("stream", name="stderr", text="\rbar 3/3\n"), new_output("stream", name="stdout", text="result\n"),
               new_output("display_data", data={"text/plain": "x"})]
    merged = stages.coalesce_streams(outputs)
    assert [o.get("name") for o in merged] == ["stderr", "stdout", None]
    assert merged[0]["text"] == "bar 3/3\n"


def test_every_headline_key_of_the_committed_reports_has_a_label():
    """What each stage put in its headline when the pipeline last ran (the committed reports/*/summary.json,
    wherever the notebook or its report module built the list) is shown under words, not a raw key."""
    repo = Path(__file__).resolve().parents[2]
    found = sorted((repo / "reports").glob("**/summary.json"))
    assert len(found) >= 8
    for path in found:
        stage = path.relative_to(repo / "reports").parts[0]
        summary = json.loads(path.read_text())
        own = summary.get("labels", {})
        unlabelled = [k for k in summary.get("headline", {})
                      if k != "dataset" and k not in own and k not in index_page.HEADLINE_LABELS.get(stage, {})]
        assert not unlabelled or stage == "06_statistics", f"{path}: no index label for {unlabelled}"
