"""Committed results (fernb.workbook.results): a finished real-data run exported without a pixel of its data,
checked, and summed up in README.md and the reports' index."""
from __future__ import annotations

import dataclasses
import fnmatch
import html
import json
import shutil
import subprocess
from pathlib import Path

import cv2
import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import f1_score

matplotlib.use("Agg")

from fernb import runs as fruns
from fernb import train as T
from fernb.data.synthphotos import synthetic_photo
from fernb.workbook import index_page, plots, results_table
from fernb.workbook import results as wr

from conftest import REPO, tiny_faces

_GIT = ["git", "-c", "user.email=test@fernb", "-c", "user.name=fernb test", "-c", "commit.gpgsign=false"]


def _face_png(path: Path) -> Path:
    """A SynthFER face photographed on a background (what notebook 00 shows the detectors): a face
    both of fernb's offline detectors find."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(synthetic_photo(0, 0, yaw=0.0).image, cv2.COLOR_RGB2BGR))
    return path


def _chart_png(path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    matrix = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.1, 0.6]])
    fig = plots.confusion_heatmap(matrix, ["happy", "sad", "anger"], counts=(matrix * 20).astype(int))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _executed_notebook(path: Path, parameters: dict, end: str, duration: float) -> None:
    """An executed notebook as papermill leaves it (its record in the metadata), with an image output."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("report.figure(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    nb.cells = [cell]
    nb.metadata["papermill"] = {"duration": duration, "start_time": "2026-01-01T00:00:00+00:00", "end_time": end,
                                "exception": None, "parameters": parameters}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def _report(folder: Path, stage: str, parameters: dict | None, end: str, duration: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps({"accuracy": 0.5}))
    (folder / "summary.json").write_text(json.dumps({"stage": stage, "headline": {"accuracy": 0.5}}))
    (folder / "tables").mkdir()
    (folder / "tables" / "test_summary.csv").write_text("metric,mean\naccuracy,0.5\n")
    (folder / "plots").mkdir()
    (folder / "plots" / "confusion.csv").write_text("actual,predicted\nhappy,happy\n")
    if parameters is not None:
        _executed_notebook(folder / f"{stage}.ipynb", parameters, end, duration)
        (folder / f"{stage}.html").write_text("<html><img src='data:image/png;base64,iVBORw0KGgo='></html>")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A small finished fer2013 pipeline in a git repository: two 1-epoch LANMSFF runs trained by
    the real trainer, stage reports with a chart, a figure of faces, an executed notebook and its
    HTML, a stale stage, an interrupted one and one that never ran here, a prepared store and a stray array."""
    root = tmp_path_factory.mktemp("finished")
    data = dataclasses.replace(tiny_faces(n_per_split=(28, 14, 14)), name="fer2013")
    results = []
    for seed in (0, 1):
        config = T.TrainConfig(epochs=1, batch_size=16, optimizer="adam", eps=1e-7, scheduler="plateau",
                               monitor="val_loss", final_weights="last", seed=seed, deterministic=True, progress=False)
        results.append(T.train_run("lanmsff", {"img_size": 32}, data, config, fruns.run_dir("02_lanmsff", "lanmsff", seed, root)))
    fruns.write_manifest("02_lanmsff", results, root=root)
    after = "2999-01-01T00:00:00+00:00"           # the reports were written after training...
    before = "2000-01-01T00:00:00+00:00"          # ...but one was left from an earlier pipeline
    _report(root / "reports" / "02_lanmsff", "02_lanmsff", {"dataset": "fer2013", "lanmsff": {"epochs": 1}}, after, 12.5)
    _chart_png(root / "reports" / "02_lanmsff" / "figures" / "confusion_matrix.png")
    _face_png(root / "reports" / "02_lanmsff" / "figures" / "offline_x4.png")
    np.save(root / "reports" / "02_lanmsff" / "tables" / "embeddings.npy", np.zeros(3))
    (root / "reports" / "02_lanmsff" / "live" / "seed0").mkdir(parents=True)
    (root / "reports" / "02_lanmsff" / "live" / "seed0" / "metrics.json").write_text("{}")
    prep = root / "reports" / "00_data_prep"
    _report(prep / "fer2013", "00_data_prep", {"dataset": "fer2013"}, before, 3.0)   # stage 00 runs first
    _chart_png(prep / "fer2013" / "figures" / "class_distribution.png")
    _face_png(prep / "fer2013" / "figures" / "samples_per_class.png")
    _report(prep / "synthfer", "00_data_prep", {"dataset": "synthfer"}, before, 2.0)
    _report(root / "reports" / "07_fps", "07_fps", {"fps": {}}, before, 7.0)
    _report(root / "reports" / "05_interpretability", "05_interpretability", {"explain": {}}, None, 3.0)  # interrupted
    _report(root / "reports" / "06_statistics", "06_statistics", None, after, 0.0)
    (root / "data" / "prepared" / "fer2013").mkdir(parents=True)
    np.save(root / "data" / "prepared" / "fer2013" / "images.npy", data.images)
    (root / "params.yaml").write_text(yaml.safe_dump({"datasets": ["fer2013"], "data": {"dataset": "fer2013"},
                                                      "lanmsff": {"epochs": 1, "img_size": 32}}))
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"02_lanmsff": {
        "cmd": "fernb run 02_lanmsff", "deps": [{"path": "fernb/models", "md5": "abc.dir"}],
        "outs": [{"path": "runs/02_lanmsff", "md5": "def.dir"}]}}}))
    (root / ".gitignore").write_text("/runs/\n/data/\n/reports/\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run([*_GIT, "commit", "-q", "-m", "a finished pipeline"], cwd=root, check=True)
    return root


@pytest.fixture(scope="module")
def exported(finished, tmp_path_factory) -> Path:
    return wr.export("fer2013", finished, tmp_path_factory.mktemp("results") / "fer2013", command="make real DATASET=fer2013")


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_export_copies_numbers_predictions_and_face_free_figures_only(exported, finished):
    run_files = {"result.json", "history.csv", "predictions.csv", "card.json", "card.md", "model.pt"}
    expected = {"README.md", "provenance.json", "LICENSE-weights.md", "measurements.json", "runs/02_lanmsff/runs.json",
                *(f"runs/02_lanmsff/lanmsff/seed{s}/{f}" for s in (0, 1) for f in run_files)}
    for report in ("reports/02_lanmsff", "reports/00_data_prep/fer2013"):
        expected |= {f"{report}/{f}" for f in ("metrics.json", "summary.json", "tables/test_summary.csv",
                                               "plots/confusion.csv")}
    expected |= {"reports/02_lanmsff/figures/confusion_matrix.png", "reports/00_data_prep/fer2013/figures/class_distribution.png"}
    assert _files(exported) == expected
    # what the claims ledger reads back: the two seeds' test accuracy with its interval, on fer2013
    measured = json.loads((exported / "measurements.json").read_text())
    entry = measured["accuracy:lanmsff"]
    accuracies = [json.loads((exported / f"runs/02_lanmsff/lanmsff/seed{s}/result.json").read_text())["test"]["accuracy"]
                  for s in (0, 1)]
    assert entry["dataset"] == "fer2013" and entry["seeds"] == 2 and entry["low"] <= entry["ours"] <= entry["high"]
    assert entry["ours"] == pytest.approx(100 * np.mean(accuracies))
    # each seed's accuracy and their spread travel with it, and the evidence says both
    assert entry["per_seed"] == pytest.approx([100 * a for a in accuracies])
    assert entry["seed_sd"] == pytest.approx(100 * np.std(accuracies, ddof=1))
    assert "2 seeds (" in entry["evidence"] and "interval over" in entry["evidence"]
    # macro-F1 too, with its interval: the seed mean of scikit-learn's macro F1 over the test images
    f1 = measured["macro_f1:lanmsff"]
    macro = []
    for s in (0, 1):
        test = pd.read_csv(exported / f"runs/02_lanmsff/lanmsff/seed{s}/predictions.csv").query("split == 'test'")
        macro.append(f1_score(test["label"], test["pred"], average="macro"))
    assert f1["seeds"] == 2 and f1["low"] <= f1["ours"] <= f1["high"] and f1["ours"] == pytest.approx(100 * np.mean(macro))
    assert f1["per_seed"] == pytest.approx([100 * m for m in macro])
    assert all(k.split(":")[0] in ("accuracy", "macro_f1", "accuracy_leakfree", "pose", "zero_shot") for k in measured)
    # never: notebooks, HTML, arrays, the prepared store, a figure of faces, SynthFER's report when exporting
    # fer2013, a report left from an earlier pipeline (07) or one with no executed notebook (06), DVCLive's logs
    provenance = json.loads((exported / "provenance.json").read_text())
    left = {x["path"]: x["reason"] for x in provenance["left_out"]}
    assert "shows faces" in left["reports/02_lanmsff/figures/offline_x4.png"]
    assert "shows faces" in left["reports/00_data_prep/fer2013/figures/samples_per_class.png"]
    assert "before the last fer2013 training run" in left["reports/07_fps"]
    assert "did not finish" in left["reports/05_interpretability"]      # a stage stopped mid-way
    assert "no executed 06_statistics.ipynb" in left["reports/06_statistics"]
    # the per-sample predictions hold ids, labels and probabilities, no pixels
    predictions = pd.read_csv(exported / "runs/02_lanmsff/lanmsff/seed0/predictions.csv")
    assert "pixels" not in predictions.columns and len(predictions.columns) < 30
    # the results folder is a project root to fernb.runs: the same runs, the same numbers
    copied = fruns.stage_runs("02_lanmsff", root=exported)
    original = fruns.stage_runs("02_lanmsff", root=finished)
    assert [r.dir for r in copied] == [exported / "runs/02_lanmsff/lanmsff" / f"seed{s}" for s in (0, 1)]
    assert [r.load().test.accuracy for r in copied] == [r.load().test.accuracy for r in original]
    card = json.loads((exported / "runs/02_lanmsff/lanmsff/seed0/card.json").read_text())
    assert card["name"] == "lanmsff" and card["trainable"] > 0 and card["flops"] > 0
    assert "trainable" in (exported / "runs/02_lanmsff/lanmsff/seed0/card.md").read_text()


def test_provenance_records_commit_params_machine_and_wall_times(exported, finished):
    provenance = json.loads((exported / "provenance.json").read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=finished, capture_output=True, text=True).stdout.strip()
    assert provenance["commit"] == head and provenance["dirty"] is False
    assert provenance["command"] == "make real DATASET=fer2013" and provenance["dataset"] == "fer2013"
    assert provenance["params"] == yaml.safe_load((finished / "params.yaml").read_text())
    assert provenance["stage_parameters"]["02_lanmsff"] == {"dataset": "fer2013", "lanmsff": {"epochs": 1}}
    assert provenance["dvc_lock"]["02_lanmsff"]["deps"] == {"fernb/models": "abc.dir"}
    assert provenance["dvc_lock"]["02_lanmsff"]["outs"] == {"runs/02_lanmsff": "def.dir"}
    assert {"python", "torch", "numpy", "timm", "cpu", "cpu_count", "platform"} <= set(provenance["environment"])
    assert provenance["stage_seconds"] == {"00_data_prep@fer2013": 3.0, "02_lanmsff": 12.5}
    seconds = provenance["run_seconds"]
    assert set(seconds) == {"runs/02_lanmsff/lanmsff/seed0", "runs/02_lanmsff/lanmsff/seed1"}
    assert all(s > 0 for s in seconds.values())
    for run, value in seconds.items():        # every epoch's time, a resumed run's earlier calls included
        assert value == pytest.approx(pd.read_csv(exported / run / "history.csv")["epoch_seconds"].sum())
    assert provenance["training_environments"][0]["torch"] == provenance["environment"]["torch"]
    files = provenance["files"]
    assert set(files) == _files(exported) - {"README.md", "provenance.json"}
    readme = (exported / "README.md").read_text()
    assert "make real DATASET=fer2013" in readme and "no licence" in readme and "research" in readme.lower()


def test_weights_are_copied_under_the_size_limit_only(finished, exported, tmp_path):
    size = (finished / "runs/02_lanmsff/lanmsff/seed0/model.pt").stat().st_size
    assert (exported / "runs/02_lanmsff/lanmsff/seed0/model.pt").stat().st_size == size
    licence = (exported / "LICENSE-weights.md").read_text()
    assert "fer2013" in licence and "no licence" in licence and "Research use only" in licence
    small = wr.export("fer2013", finished, tmp_path / "small", max_model_mb=size / 2e6)
    assert not list(small.rglob("*.pt")) and not (small / "LICENSE-weights.md").exists()
    left = json.loads((small / "provenance.json").read_text())["models_left_out"]
    assert [x["path"] for x in left] == [f"runs/02_lanmsff/lanmsff/seed{s}/model.pt" for s in (0, 1)]
    assert wr.check_results(small) == []


def test_export_refuses_another_datasets_runs_an_empty_project_and_a_foreign_folder(finished, tmp_path):
    with pytest.raises(ValueError, match="02_lanmsff did not train on ferplus"):
        wr.export("ferplus", finished, tmp_path / "ferplus")
    other = tmp_path / "other"
    shutil.copytree(finished / "runs", other / "runs")
    (other / "runs" / "01_hafem").mkdir()
    (other / "runs" / "01_hafem" / "runs.json").write_text(json.dumps(
        {"stage": "01_hafem", "runs": [{"dir": "runs/01_hafem/hafem/seed0", "dataset": "synthfer"}]}))
    with pytest.raises(ValueError, match=r"01_hafem.*synthfer, not fer2013"):
        wr.export("fer2013", other, tmp_path / "x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty has no finished training stage to export for fer2013"):
        wr.export("fer2013", tmp_path / "empty")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not an earlier export"):
        wr.export("fer2013", finished, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_a_new_export_replaces_the_previous_one(finished, tmp_path):
    first = wr.export("fer2013", finished, tmp_path / "fer2013")
    (first / "stale.csv").write_text("a\n1\n")
    again = wr.export("fer2013", finished, tmp_path / "fer2013")
    assert again == first and not (again / "stale.csv").exists() and (again / "provenance.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["fer2013"]          # no partial folder left behind


def test_check_results_passes_the_export_and_flags_what_must_not_be_committed(exported, tmp_path):
    assert wr.check_results(exported) == []

    def broken(name: str) -> Path:
        return Path(shutil.copytree(exported, tmp_path / name))

    no_commit = broken("no_commit")
    provenance = json.loads((no_commit / "provenance.json").read_text())
    del provenance["commit"], provenance["stage_seconds"], provenance["run_seconds"]
    (no_commit / "provenance.json").write_text(json.dumps(provenance))
    problems = wr.check_results(no_commit)
    assert any("no commit" in p for p in problems) and any("wall times" in p for p in problems)
    (no_commit / "provenance.json").unlink()
    assert any("provenance.json: missing" in p for p in wr.check_results(no_commit))

    array = broken("array")
    np.save(array / "reports" / "02_lanmsff" / "tables" / "embeddings.npy", np.zeros(3))
    assert wr.check_results(array) == ["reports/02_lanmsff/tables/embeddings.npy: a .npy file "
                                       "(allowed: .json, .csv, .md, .txt, .png, .pt)"]

    # a face under an allowed name: only the detector can tell
    face = broken("face")
    _face_png(face / "reports" / "02_lanmsff" / "figures" / "confusion_matrix.png")
    problems = wr.check_results(face)
    assert any(p.startswith("reports/02_lanmsff/figures/confusion_matrix.png: a face detector finds") for p in problems)
    assert not any("allow-list" in p for p in problems)

    off_list = broken("off_list")
    _chart_png(off_list / "reports" / "02_lanmsff" / "figures" / "offline_x4.png")
    assert wr.check_results(off_list) == ["reports/02_lanmsff/figures/offline_x4.png: not a figure on the allow-list "
                                          "(reports/<stage>/figures/<name>.png, FACE_FREE_FIGURES)"]

    edited = broken("edited")
    with open(edited / "runs/02_lanmsff/lanmsff/seed0/predictions.csv", "a") as f:
        f.write("\n")
    (edited / "LICENSE-weights.md").unlink()
    problems = wr.check_results(edited)
    assert any("predictions.csv: changed since the export" in p for p in problems)
    assert any("weights without LICENSE-weights.md" in p for p in problems)


def test_face_detections_find_a_rendered_face_and_nothing_in_a_chart(tmp_path):
    found = wr.face_detections(_face_png(tmp_path / "face.png"))
    assert any(f.startswith("haar") for f in found) and any(f.startswith("mtcnn") for f in found)
    assert wr.face_detections(_chart_png(tmp_path / "chart.png")) == []


def test_readme_table_reports_the_runs_and_the_papers_claim(exported, tmp_path):
    folder = Path(shutil.copytree(exported, tmp_path / "results" / "fer2013"))
    accuracy = [100 * json.loads((folder / f"runs/02_lanmsff/lanmsff/seed{s}/result.json").read_text())["test"]["accuracy"]
                for s in (0, 1)]
    f1 = [100 * json.loads((folder / f"runs/02_lanmsff/lanmsff/seed{s}/result.json").read_text())["test"]["f1"]
          for s in (0, 1)]
    (folder / "measurements.json").unlink()          # without measurements: the spread over seeds
    table = wr.readme_table(tmp_path / "results")
    header, rule, row = table.splitlines()
    assert header.startswith("| dataset | model | scale | test accuracy %")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["[fer2013](results/fer2013/README.md)", "lanmsff", "1 epoch · 32 px · 2 seeds"]
    assert cells[3] == f"{np.mean(accuracy):.1f} ± {np.std(accuracy, ddof=1):.1f}"
    # each seed beside the seed-mean, with their sample sd
    assert cells[4] == f"{accuracy[0]:.1f} / {accuracy[1]:.1f} (sd {np.std(accuracy, ddof=1):.1f})"
    assert cells[5] == "—"                         # no leak-free measurement
    assert cells[6] == f"{np.mean(f1):.1f} ± {np.std(f1, ddof=1):.1f}"
    assert cells[7] == "70.44"                     # LANMSFF's FER2013 claim, fernb.papers.lanmsff.CLAIMS
    # a measurement with its interval wins over the spread over seeds
    (folder / "measurements.json").write_text(json.dumps({
        "accuracy:lanmsff": {"ours": 61.234, "low": 59.6, "high": 62.8, "seeds": 2},
        "accuracy_leakfree:lanmsff": {"ours": 60.05, "low": 58.3, "high": 61.7, "seeds": 2}}))
    cells = [c.strip() for c in wr.readme_table(tmp_path / "results").splitlines()[2].strip("|").split("|")]
    assert cells[3] == "61.2 [59.6, 62.8]" and cells[5] == "60.0 [58.3, 61.7]"
    assert cells[4] == f"{accuracy[0]:.1f} / {accuracy[1]:.1f} (sd {np.std(accuracy, ddof=1):.1f})"
    assert cells[6] == f"{np.mean(f1):.1f} ± {np.std(f1, ddof=1):.1f}"     # no macro-F1 measurement: the spread
    measured = json.loads((folder / "measurements.json").read_text())
    measured["macro_f1:lanmsff"] = {"ours": 58.76, "low": 57.1, "high": 60.3, "seeds": 2}
    (folder / "measurements.json").write_text(json.dumps(measured))
    cells = [c.strip() for c in wr.readme_table(tmp_path / "results").splitlines()[2].strip("|").split("|")]
    assert cells[6] == "58.8 [57.1, 60.3]"
    assert wr.readme_table(tmp_path / "nothing").startswith("*No committed results yet")


def test_the_folder_readme_says_when_a_training_stage_reused_earlier_runs(exported, tmp_path):
    # the export times each stage's last notebook execution; a training notebook that found its runs
    # finished (fernb.runs reuses a run of the same configuration) takes seconds, so the README says
    # that its runs were trained earlier, and for how long
    prov = json.loads((exported / "provenance.json").read_text())
    assert prov["stage_seconds"]["02_lanmsff"] == pytest.approx(12.5)
    def wall_time_row(text: str) -> list[str]:
        section = text.split("## Wall time per stage")[1].split("##")[0]
        line = next(l for l in section.splitlines() if l.startswith("| 02_lanmsff |"))
        return [c.strip() for c in line.strip("|").split("|")]

    assert wall_time_row((exported / "README.md").read_text())[:2] == ["02_lanmsff", "12 s"]
    # runs that took less than the notebook's 12.5 s (set here: the real ones' seconds depend on the machine's load)
    prov["run_seconds"] = {k: 1.0 for k in prov["run_seconds"]}
    assert wall_time_row(wr._folder_readme("fer2013", exported, prov)) == ["02_lanmsff", "12 s", ""]
    prov["run_seconds"] = {k: 3600.0 for k in prov["run_seconds"]}
    text = wr._folder_readme("fer2013", exported, prov)
    assert wall_time_row(text) == ["02_lanmsff", "12 s",
                                   "its runs trained for 2.0 h, all or part of it before this execution (reused or resumed)"]


def test_the_index_shows_the_same_rows_as_the_readme(exported, tmp_path):
    # the reports' front page reads the committed results too (fernb.workbook.index_page.build_index)
    shutil.copytree(exported, tmp_path / "results" / "fer2013")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    page = index_page.build_index(tmp_path).read_text()
    rows = results_table.table_rows(tmp_path / "results")
    assert len(rows) == 1 and "Results on real data" in page
    assert 'href="../results/fer2013/README.md"' in page
    assert all(html.escape(rows[0][c]) in page for c in results_table.TABLE_COLUMNS[1:])
    markdown = wr.readme_table(tmp_path / "results").splitlines()[2]
    assert [c.strip() for c in markdown.strip("|").split("|")][1:] == [rows[0][c] for c in results_table.TABLE_COLUMNS[1:]]
    shutil.rmtree(tmp_path / "results")
    assert "Results on real data" not in index_page.build_index(tmp_path).read_text()   # nothing committed: no section


def test_update_readme_replaces_only_the_marked_block(exported, tmp_path):
    shutil.copytree(exported, tmp_path / "results" / "fer2013")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{wr.TABLE_BEGIN}\nold table\n{wr.TABLE_END}\n\nafter\n")
    assert wr.update_readme(readme, tmp_path / "results") is True
    text = readme.read_text()
    assert text == (f"# Title\n\nbefore\n\n{wr.TABLE_BEGIN}\n{wr.readme_table(tmp_path / 'results')}\n"
                    f"{wr.TABLE_END}\n\nafter\n")
    assert wr.update_readme(readme, tmp_path / "results") is False and readme.read_text() == text
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="results-table"):
        wr.update_readme(readme, tmp_path / "results")


def test_results_cli_exports_checks_and_tables(finished, tmp_path, monkeypatch, capsys):
    from fernb.cli import main

    project = Path(shutil.copytree(finished, tmp_path / "project"))
    monkeypatch.setenv("FERNB_ROOT", str(project))
    assert main(["results", "export", "fer2013", "--max-model-mb", "0"]) == 0
    out = project / "results" / "fer2013"
    assert json.loads((out / "provenance.json").read_text())["command"] == "fernb results export fer2013 --max-model-mb 0"
    assert not list(out.rglob("*.pt"))
    assert main(["results", "check"]) == 0 and "ok" in capsys.readouterr().out
    np.save(out / "stray.npy", np.zeros(2))
    assert main(["results", "check", str(out)]) == 1
    assert "stray.npy: a .npy file" in capsys.readouterr().err
    assert main(["results", "export", "ferplus"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fernb: error:") and "did not train on ferplus" in err and "Traceback" not in err
    assert main(["results", "export", "fer2013", "--command", "make real DATASET=fer2013"]) == 0
    assert json.loads((out / "provenance.json").read_text())["command"] == "make real DATASET=fer2013"
    assert (out / "runs/02_lanmsff/lanmsff/seed0/model.pt").is_file() and not (out / "stray.npy").exists()
    (project / "README.md").write_text(f"x\n{wr.TABLE_BEGIN}\n{wr.TABLE_END}\n")
    assert main(["results", "table", "--update-readme"]) == 0
    assert "| [fer2013](results/fer2013/README.md) | lanmsff |" in (project / "README.md").read_text()


def _notebook_figures(nb_path: Path) -> list[str]:
    """The figure names a notebook's ``report.figure(fig, name)`` calls write: a literal, or an
    f-string whose placeholders become ``*``."""
    import ast
    import importlib

    names, modules = [], {}
    cells = [c for c in nbformat.read(nb_path, as_version=4).cells if c.cell_type == "code"]
    trees = [ast.parse("\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!"))))
             for c in cells]
    for tree in trees:   # `from fernb.x import y as z`: z -> fernb.x.y
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fernb"):
                modules.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    for module in {m for m in modules.values() if m.endswith("_report")}:   # a report module saving figures itself
        source = Path(importlib.import_module(module).__file__).read_text()
        trees.append(ast.parse(source))
    for tree in trees:
        generated = {}   # a name bound by `for name, fig in module.generator(...)`: the generator's FIGURE_NAMES pattern
        for node in ast.walk(tree):
            if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Attribute) \
                    and node.iter.func.value.__class__ is ast.Name and node.iter.func.value.id in modules \
                    and isinstance(node.target, ast.Tuple):
                module = importlib.import_module(modules[node.iter.func.value.id])
                pattern = getattr(module, "FIGURE_NAMES", {}).get(node.iter.func.attr)
                if pattern and isinstance(node.target.elts[0], ast.Name):
                    generated[node.target.elts[0].id] = pattern
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "figure" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "report":
                arg = node.args[1] if len(node.args) > 1 else next(k.value for k in node.keywords if k.arg == "name")
                if isinstance(arg, ast.Constant):
                    names.append(arg.value)
                elif isinstance(arg, ast.Name) and arg.id in generated:
                    names.append(generated[arg.id])
                else:
                    assert isinstance(arg, ast.JoinedStr), (f"{nb_path.name}: a figure name that is neither text, an "
                                                             "f-string nor a generator's FIGURE_NAMES entry")
                    names.append("".join(v.value if isinstance(v, ast.Constant) else "*" for v in arg.values))
    return names


@pytest.mark.parametrize("nb_path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_figure_a_notebook_draws_is_on_exactly_one_list(nb_path):
    """A new figure must be classified before a real-data export can carry it: face-free
    (FACE_FREE_FIGURES, copied) or showing faces or pixels (FACE_FIGURES, never copied)."""
    stage = nb_path.stem
    for name in _notebook_figures(nb_path):
        free = wr.figure_allowed(stage, name)
        faces = any(fnmatch.fnmatchcase(name, p) for p in wr.FACE_FIGURES.get(stage, ()))
        assert free != faces, (f"{stage}: figure {name!r} is on {'both lists' if free else 'neither list'} "
                               "of fernb/workbook/results.py (FACE_FREE_FIGURES / FACE_FIGURES)")


def test_committed_results_carry_provenance_and_no_faces():
    """Every committed results/<dataset>/ folder passes check_results: provenance, allowed file
    types, figures on the allow-list, and no face any detector finds."""
    folders = sorted(p for p in (REPO / "results").glob("[!.]*") if p.is_dir())
    problems = {folder.name: wr.check_results(folder) for folder in folders}
    assert {name: found for name, found in problems.items() if found} == {}


def test_readme_results_table_is_current():
    """README.md's results table is what `fernb results table` makes of the committed folders."""
    text = (REPO / "README.md").read_text()
    if wr.TABLE_BEGIN not in text:
        pytest.skip("README.md has no results-table block yet")
    block = text.split(wr.TABLE_BEGIN, 1)[1].split(wr.TABLE_END, 1)[0].strip()
    assert block == wr.readme_table(REPO / "results"), "README.md's results table is stale: run `fernb results table --update-readme`"
