"""Notebook 00 executed by papermill on tiny parameters, and the DVC pipeline end to end."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from fernb.data import load_store
from fernb.evaluate import stats
from fernb.faces import fan_status
from fernb.faces.backends import mtcnn_status
from fernb.workbook import stages

from conftest import (
    BIN,
    TINY_ABLATIONS,
    TINY_EXPLAIN,
    TINY_FPS,
    TINY_SEARCH,
    TINY_SHIFTS,
    TINY_STATISTICS,
    TINY_TRAINING,
    TINY_TRANSFER,
    notebook_noise,
)

TINY = {"n_train": 84, "n_val": 28, "n_test": 28, "grid_per_class": 2, "demo_photos": 12, "pose_check_photos": 40}


@pytest.mark.slow
def test_stage_00_on_tiny_synthfer(project_copy):
    page = stages.run_stage("00_data_prep@synthfer", project_copy, TINY, log_output=False)
    out = project_copy / "reports" / "00_data_prep" / "synthfer"
    assert page == out / "00_data_prep.html"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "synthfer"
    assert metrics["split_sizes"] == {"train": 84, "val": 28, "test": 28}
    assert metrics["classes"] == 7
    probe = metrics["linear_probe"]
    assert probe["train_images"] == 84 and probe["chance_balanced"] == pytest.approx(1 / 7)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["headline"]["images"] == 140
    for figure in ("class_distribution", "samples_per_class", "pose_distribution", "landmarks_by_pose",
                   "pixel_histograms", "mean_faces", "near_blank", "au_regions_happy", "face_pipeline",
                   "pose_estimator_check"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000, figure
    plot = (out / "plots" / "class_distribution.csv").read_text().splitlines()
    assert plot[0] == "split,class,count,fraction" and len(plot) == 1 + 3 * 7
    html = page.read_text()
    assert "Data preparation" in html and "data:image/png;base64" in html
    _assert_quiet(out / "00_data_prep.ipynb")
    # without face-alignment the fallback (MTCNN, or OpenCV's Haar cascades without facenet-pytorch) is a
    # displayed note naming the backend that ran, not a warning
    if not fan_status()["ready"]:
        label = "MTCNN (facenet-pytorch)" if mtcnn_status()["ready"] else "OpenCV Haar cascades"
        assert f"Face backend: {label} (fallback)" in html and "no 68-point landmarks" in html
    store = load_store(project_copy / "data" / "prepared" / "synthfer")
    assert len(store) == 140 and store.landmarks.shape == (140, 68, 2)
    val = store.labels[store.split == "val"]
    assert probe["majority_class_share"] == pytest.approx(np.bincount(val).max() / len(val))
    counts = {s: int((store.split == s).sum()) for s in ("train", "val", "test")}
    assert counts == metrics["split_sizes"]
    # the face pipeline section: its numbers agree with the tables written beside them
    faces = metrics["faces"]
    demo = pd.read_csv(out / "tables" / "face_demo_by_pose.csv")
    assert demo["photos"].sum() == faces["demo"]["photos"] == TINY["demo_photos"]
    assert faces["demo"]["found_rate"] == pytest.approx((demo["photos"] * demo["found"]).sum() / TINY["demo_photos"])
    check = pd.read_csv(out / "tables" / "pose_estimator_check.csv", dtype={"true_pose": str}).set_index("true_pose")
    assert check.loc["all", "images"] == TINY["pose_check_photos"]
    assert faces["pose_estimator"]["same_bin"] == pytest.approx(check.loc["all", "same_bin"])
    assert faces["pose_estimator"]["frontal_misread"] == pytest.approx(1 - check.loc["0", "same_bin"])
    subsets = pd.read_csv(out / "tables" / "pose_subsets.csv").set_index("split")
    test_yaw = store.pose[store.split == "test"]
    assert faces["pose_subsets_test"]["gt30"] == subsets.loc["test", "yaw_gt_30"] == int((np.abs(test_yaw) > 30).sum())
    assert faces["pose_subsets_test"]["gt45"] == int((np.abs(test_yaw) > 45).sum())


def _assert_quiet(*notebooks):
    """No stderr output and no "Warning" in any executed notebook (a warning box in its HTML)."""
    noise = [line for nb in notebooks for line in notebook_noise(nb)]
    assert noise == [], "executed notebooks show warnings or stderr:\n" + "\n".join(noise)
    for nb in notebooks:
        assert 'data-mime-type="application/vnd.jupyter.stderr"' not in nb.with_suffix(".html").read_text()


def _check_training_reports(project, stage, model):
    """A training stage's reports: metrics over the whole test split, figures, and the run's files."""
    out = project / "reports" / stage
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "synthfer" and metrics["seeds"] == [0]
    assert 0.0 <= metrics["test"]["accuracy"]["mean"] <= 1.0 and metrics["test"]["accuracy"]["std"] is None
    for figure in ("learning_curves", "confusion_matrix", "per_class"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000, figure
    run = project / "runs" / stage / model / "seed0"
    predictions = pd.read_csv(run / "predictions.csv")
    assert predictions["split"].value_counts().to_dict() == {"val": 28, "test": 28}
    assert metrics["test"]["accuracy"]["mean"] == pytest.approx(predictions.loc[predictions["split"] == "test", "correct"].mean())
    assert (out / "live" / "seed0" / "metrics.json").is_file()
    assert len(pd.read_csv(out / "plots" / "learning_curves.csv")) == TINY_TRAINING[model]["epochs"]
    html = (out / f"{stage}.html").read_text()
    assert "data:image/png;base64" in html and "Traceback" not in html
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["headline"]) == {"dataset", "test.accuracy.mean", "test.f1.mean", "test.balanced_accuracy.mean"}


def _check_ablation_report(project):
    """Notebook 03's metrics: every variant of every ladder over both seeds, the pose variance
    rows, the search; the top rows' seed-0 runs read back from stages 01 and 02."""
    out = project / "reports" / "03_ablations"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seeds"] == TINY_ABLATIONS["seeds"]
    expected = {"hafem_components": 5, "hafem_loss": 4, "lanmsff_modules": 4}
    assert {name: len(ladder["variants"]) for name, ladder in metrics["ladders"].items()} == expected
    for ladder in metrics["ladders"].values():
        for variant in ladder["variants"].values():
            assert variant["seeds"] == 2 and 0.0 <= variant["test_accuracy_mean"] <= 1.0
            assert variant["test_accuracy_sd"] is not None
        assert len(ladder["steps"]) == len(ladder["variants"]) - 1
    assert [row["variant"] for row in metrics["lanmsff_pose"]] == ["whole", "-PWFS", "-MassAtt", "-both"]
    assert all(row["var (sample)"] >= row["var (population)"] for row in metrics["lanmsff_pose"]
               if row["var (sample)"] is not None)        # a tiny test split may leave a pose empty
    search = metrics["search"]
    assert sum(search["trials"].values()) == TINY_SEARCH["trials"] and 0.0 <= search["best_value"] <= 1.0
    assert (project / search["best_file"]).is_file()
    runs = pd.read_csv(out / "tables" / "runs.csv")
    top = runs[(runs["seed"] == 0) & runs["variant"].isin(["+recipe loss", "whole"])].set_index("variant")["origin"]
    assert top.to_dict() == {"+recipe loss": "read back from 01_hafem", "whole": "read back from 02_lanmsff"}
    for figure in ("hafem_components_ladder", "lanmsff_modules_ladder", "lanmsff_pose", "search_history"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000, figure
    predictions = pd.read_csv(project / search["best_file"].replace("best.yaml", "trial0000/predictions.csv"))
    assert set(predictions["split"]) == {"val"}, "a search trial scored the test split"


def _check_statistics_report(project):
    """Notebook 06: every trained model compared on the same test images (Holm within each
    family), the claims ledger written as CSV, JSON and HTML with a verdict from the vocabulary
    for every check, its measurements filled from the runs, and the index headed by it."""
    from fernb.papers import checks, ledger

    out = project / "reports" / "06_statistics"
    metrics = json.loads((out / "metrics.json").read_text())
    table = pd.read_csv(out / "tables" / "comparisons.csv")
    models = pd.read_csv(out / "tables" / "models.csv", index_col=0)
    assert {"HAFEM (01)", "LANMSFF (02)"} <= set(models.index)
    # notebook 03 read its top rows' seed 0 back from stages 01/02: they join those models, with 03's seed 1
    assert models.loc["HAFEM (01)", "seeds"] == 2 and "hafem_components/+recipe loss" in models.loc["HAFEM (01)", "also named"]
    assert len(table) == metrics["comparisons"] == 2 * (len(models) - 1)
    hafem_rows = table[table["family"] == "HAFEM vs every other model"]
    assert (hafem_rows["b"] == "HAFEM (01)").all() and hafem_rows["images"].nunique() == 1
    assert np.allclose(hafem_rows["p_holm (McNemar)"], stats.holm(hafem_rows["p McNemar (exact)"].to_numpy()))
    assert hafem_rows["p t (seeds)"].notna().any()               # two shared seeds somewhere: a seed test ran
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["verdict"]) <= set(checks.VERDICTS) and claims["evidence"].notna().all()
    assert claims["id"].nunique() == metrics["claims"] == len(ledger.claims())
    assert len(json.loads((out / "claims.json").read_text())) == len(claims) == metrics["checks"]
    measured = claims[(claims["kind"] == "measurement") & claims["ours"].notna()]
    rows = measured[measured["id"] == "lanmsff-abstract-fer2013"]
    assert ((rows["ours_low"] <= rows["ours"]) & (rows["ours"] <= rows["ours_high"])).all()
    committed = project / "results" / "fer2013" / "measurements.json"      # results/ travels with the project
    found = json.loads(committed.read_text()) if committed.is_file() else {}
    if "accuracy:lanmsff" in found:     # a committed make-real run reaches the FER2013 claim, with its leak-free twin
        keys = [k for k in ("accuracy:lanmsff", "accuracy_leakfree:lanmsff") if k in found]
        assert sorted(rows["ours"]) == pytest.approx(sorted(found[k]["ours"] for k in keys))
        assert set(rows["scale"]) == {found["accuracy:lanmsff"]["scale"]} and (rows["verdict"] != "not testable here").all()
    else:                               # only the SynthFER run: a FER2013 claim it cannot test
        assert len(rows) == 1 and rows.iloc[0]["verdict"] == "not testable here" and "synthfer" in rows.iloc[0]["evidence"]
    index = (project / "reports" / "index.html").read_text()
    assert "Claims ledger" in index and 'href="06_statistics/claims.html"' in index
    assert 'href="06_statistics/06_statistics.html"' in index


def _check_interpretability_report(project):
    """Notebook 05's metrics: per model and method, rank and mass accuracy with their chance
    level, the pointing game, the causal correlation and the sanity similarities; the tables
    agree with the metrics."""
    out = project / "reports" / "05_interpretability"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "synthfer" and metrics["ground_truth"].startswith("SynthFER renderer")
    store = load_store(project / "data" / "prepared" / "synthfer")
    per_class = np.bincount(store.labels[store.split == "test"], minlength=7)
    picked = np.minimum(per_class, TINY_EXPLAIN["per_class"])
    assert metrics["faces"] == picked.sum() and set(metrics["models"]) == {"HAFEM (01_hafem)", "LANMSFF (02_lanmsff)"}
    scores = pd.read_csv(out / "tables" / "scores_long.csv")
    for model, per_method in metrics["models"].items():
        assert set(per_method) == {"grad_cam", "shap"}
        for method, m in per_method.items():
            assert 0 < m["chance"] < 1 and 0 <= m["pointing_chance"] <= 1
            part = scores[(scores["model"] == model) & (scores["method"] == method) & (scores["region"] == "class")]
            assert m["chance"] == pytest.approx(part["chance"].mean())
            assert m["faces"] == part["face"].nunique() == picked[1:].sum()    # neutral (index 0) has no defining AU
            assert list(m["randomisation_similarity"])[0] == "(none: trained)"
            assert m["randomisation_similarity"]["head"] <= 1.0
            assert m["deletion_auc_random"] is not None and "causal_rho" in m
    cascade = pd.read_csv(out / "tables" / "cascading_randomisation.csv")
    assert set(cascade[cascade["model"].str.startswith("LANMSFF")]["randomised"]) == {
        "(none: trained)", "head", "block4", "block3", "block2", "block1"}
    ledger = pd.read_csv(out / "tables" / "claims_versus_ours.csv")
    assert ledger["measured"].notna().all() and len(ledger) >= 4
    for figure in ("maps_hafem", "maps_lanmsff", "cascading_randomisation", "deletion_insertion", "pose_maps"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000, figure


def _check_transfer_report(project):
    """Notebook 04's metrics: both training stages x the in-domain split and every shift, each cell
    with its interval, every shift's drop paired except the prior's; the fine-tuning curve."""
    out = project / "reports" / "04_cross_dataset"
    metrics = json.loads((out / "metrics.json").read_text())
    shifts = [f"synthfer-{name}" for name in ("identity", "pose", "lighting", "occlusion", "resolution", "prior")]
    assert metrics["targets"] == ["synthfer", *shifts]
    assert metrics["models"] == ["HAFEM (01) · synthfer", "LANMSFF (02) · synthfer"]
    majority = pd.read_csv(out / "tables" / "targets.csv", index_col=0)["majority %"]
    for model, row in metrics["matrix"]["accuracy"].items():
        assert set(row) == {"synthfer", *shifts}
        assert row["synthfer"]["drop"] is None
        for name in shifts:
            cell = row[name]
            assert cell["low"] <= cell["value"] <= cell["high"]
            assert cell["paired"] is (name != "synthfer-prior"), (model, name)
            assert cell["drop"] == pytest.approx(row["synthfer"]["value"] - cell["value"])
        # every cell's floor is its column's majority share (same seven classes: nothing dropped)
        for name in ("synthfer", *shifts):
            assert row[name]["floor"] == pytest.approx(majority[name] / 100), (model, name)
    floors = pd.read_csv(out / "tables" / "matrix_floor.csv", index_col=0)
    targets = pd.read_csv(out / "tables" / "targets.csv", index_col=0)
    for name in ("synthfer", *shifts):
        assert floors.loc["LANMSFF (02) · synthfer", name] == f"{majority[name]:.1f} ({targets.at[name, 'majority class']})"
    curve = metrics["finetune"]["HAFEM (01) · synthfer"]
    assert [p["epochs"] for p in curve] == [0, 1, 2]
    assert curve[0]["accuracy"] == pytest.approx(metrics["matrix"]["accuracy"]["HAFEM (01) · synthfer"]["synthfer-identity"]["value"])
    for epochs in (1, 2):
        run = project / "runs" / "04_cross_dataset" / "finetune" / "synthfer-identity" / "01_hafem_hafem" / f"epochs{epochs}" / "seed0"
        info = json.loads((run / "result.json").read_text())
        assert info["config"]["init_from"].endswith("runs/01_hafem/hafem/seed0") and info["epochs_run"] == epochs
    predictions = list((project / "runs" / "04_cross_dataset" / "predictions").rglob("*.csv"))
    assert len(predictions) == 2 * 7
    for figure in ("transfer_matrix", "shift_faces", "largest_drop_confusion", "finetune_01_hafem"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000, figure
    claims = pd.read_csv(out / "tables" / "claims_versus_ours.csv")
    assert claims["ours"].str.contains("not measured here").sum() == 4   # no FER2013, RAF-DB or AffectNet here


def _dvc(project, *args, check=True):
    scratch = project.parent / "scratch"                               # the stages' temporary files
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1",
           "FERNB_ROOT": str(project), "TMPDIR": str(scratch)}
    result = subprocess.run([str(BIN / "dvc"), *args], cwd=project, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _check_fps_report(project):
    """Notebook 07's reports: every measured point with its environment, the ONNX check, predict's rows."""
    out = project / "reports" / "07_fps"
    saved = json.loads((out / "benchmark.json").read_text())
    assert {"device", "torch", "timm", "threads", "date", "commit"} <= set(saved["environment"])
    points = pd.DataFrame(saved["latency"])
    # lanmsff (as configured) and the two trained models, eager at batch 1 and 2; ONNX Runtime at batch 1
    # for lanmsff only (the cpu sweep exports the papers' configurations, not the trained networks)
    assert set(points["model"]) == {"lanmsff", "hafem_trained", "lanmsff_trained"}
    assert set(map(tuple, points[["variant", "batch"]].drop_duplicates().to_numpy())) == {
        ("eager", 1), ("eager", 2), ("onnxruntime", 1)}
    assert set(points.loc[points["variant"] == "onnxruntime", "model"]) == {"lanmsff"}
    assert (points["status"] == "ok").all() and (points["median_ms"] > 0).all()
    onnx = pd.read_csv(out / "tables" / "onnx.csv")
    assert onnx["within bound"].all() and len(onnx) == 1
    rows = pd.read_csv(out / "tables" / "predict_rows.csv")
    assert sorted(rows["frame"].unique()) == [0, 1, 2]          # every frame of the video has a row
    assert (rows.loc[rows["frame"] == 1, "status"] == "no_face").all()   # the blank middle frame
    e2e = pd.read_csv(out / "tables" / "end_to_end.csv", index_col=0)
    backends = {name.split(" · ")[0] for name in e2e.index}
    html = (out / "07_fps.html").read_text()
    assert "data:image/png;base64" in html and "Traceback" not in html
    if fan_status()["ready"]:
        assert backends == {"opencv", "fan"}
    else:                                                             # skipped, and the report says why
        assert backends == {"opencv"} and "fan skipped" in html
    for figure in ("latency_by_variant", "throughput", "accuracy_vs_fps", "end_to_end", "predict_frames"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 1000, figure


@pytest.mark.slow
def test_dvc_repro_end_to_end_and_incremental(project_copy):
    _dvc(project_copy, "init", "--no-scm", "-q")
    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    params["synthfer"].update(n_train=84, n_val=28, n_test=28)
    params["data_prep"]["grid_per_class"] = 2
    for section, values in TINY_TRAINING.items():
        params[section].update(values)
    params["fps"].update(TINY_FPS)
    params["ablations"].update(TINY_ABLATIONS)
    params["search"].update(TINY_SEARCH)
    params["shifts"].update(TINY_SHIFTS)
    params["transfer"].update(TINY_TRANSFER)
    params["explain"].update(TINY_EXPLAIN)
    params["statistics"].update(TINY_STATISTICS)
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    _dvc(project_copy, "repro")
    reports = project_copy / "reports"
    assert (reports / "index.html").is_file()
    assert 'href="00_data_prep/synthfer/00_data_prep.html"' in (reports / "index.html").read_text()
    assert (reports / "00_data_prep" / "synthfer" / "00_data_prep.html").is_file()
    assert json.loads(_dvc(project_copy, "status", "--json").stdout) == {}
    _check_training_reports(project_copy, "01_hafem", "hafem")
    _check_training_reports(project_copy, "02_lanmsff", "lanmsff")
    _check_fps_report(project_copy)
    _check_ablation_report(project_copy)
    assert 'href="03_ablations/03_ablations.html"' in (reports / "index.html").read_text()
    _check_transfer_report(project_copy)
    assert 'href="04_cross_dataset/04_cross_dataset.html"' in (reports / "index.html").read_text()
    _check_interpretability_report(project_copy)
    assert 'href="05_interpretability/05_interpretability.html"' in (reports / "index.html").read_text()
    _assert_quiet(reports / "05_interpretability" / "05_interpretability.ipynb")
    _check_statistics_report(project_copy)
    _assert_quiet(reports / "06_statistics" / "06_statistics.ipynb")
    _assert_quiet(reports / "00_data_prep" / "synthfer" / "00_data_prep.ipynb", reports / "01_hafem" / "01_hafem.ipynb",
                  reports / "02_lanmsff" / "02_lanmsff.ipynb", reports / "03_ablations" / "03_ablations.ipynb",
                  reports / "04_cross_dataset" / "04_cross_dataset.ipynb", reports / "07_fps" / "07_fps.ipynb")
    left = sorted(p.name for p in (project_copy.parent / "scratch").iterdir() if p.name.startswith("fernb"))
    assert left == [], f"the pipeline left temporary files behind: {left}"

    second = _dvc(project_copy, "repro")
    assert "Running stage" not in second.stdout, "a second dvc repro with nothing changed re-ran a stage"

    # A HAFEM key re-runs notebook 01 and the ablations (which read the hafem section); a shared
    # training key re-runs both trainings and the ablations; an ablation key re-runs 03 only.
    params["hafem"]["head_dropout"] = 0.3
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"01_hafem", "03_ablations"}
    params["hafem"]["head_dropout"] = TINY_TRAINING["hafem"].get("head_dropout", 0.2)
    params["train"]["grad_clip"] = 1.0
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"01_hafem", "02_lanmsff", "03_ablations",
                                                                             "04_cross_dataset"}
    params["train"]["grad_clip"] = None
    params["search"]["trials"] = 3
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"03_ablations"}
    params["search"]["trials"] = TINY_SEARCH["trials"]
    params["train"]["grad_clip"] = None
    params["fps"]["e2e_frames"] = 3                                     # a benchmark key: notebook 07 only
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"07_fps"}
    params["fps"]["e2e_frames"] = TINY_FPS["e2e_frames"]
    params["transfer"]["label_rule"] = "error"                          # a transfer key: notebook 04 only
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"04_cross_dataset"}
    params["transfer"]["label_rule"] = "drop"
    params["explain"]["curve_steps"] = 3                                # an interpretability key: notebook 05 only
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"05_interpretability"}
    params["explain"]["curve_steps"] = TINY_EXPLAIN["curve_steps"]
    params["statistics"]["n_boot"] = 300                                # a statistics key: notebook 06 only
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"06_statistics"}
    params["statistics"]["n_boot"] = TINY_STATISTICS["n_boot"]
    params["shifts"]["datasets"]["occlusion"] = {"occlusion_prob": 0.9}  # a shift: its stage (and 04 after it)
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(json.loads(_dvc(project_copy, "status", "--json").stdout)) == {"00_shifts", "04_cross_dataset"}
    params["shifts"]["datasets"]["occlusion"] = {"occlusion_prob": 1.0}

    # A key only stage 00 declares re-runs 00 (and what reads its outputs), nothing is re-run for an unread key.
    params["data_prep"]["grid_per_class"] = 3
    params["unrelated_section"] = {"value": 1}
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(_dvc(project_copy, "status", "--json").stdout)
    assert set(status) == {"00_data_prep@synthfer"}

    # A failing stage fails dvc repro with the cell's error in the output.
    nb = project_copy / "notebooks" / "00_data_prep.ipynb"
    text = json.loads(nb.read_text())
    text["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                          "source": "raise ValueError('deliberate failure for the test')"})
    nb.write_text(json.dumps(text))
    failed = _dvc(project_copy, "repro", check=False)
    assert failed.returncode != 0
    assert "deliberate failure for the test" in failed.stdout + failed.stderr


def _kdef_zip(folder):
    """A KDEF_and_AKDEF.zip of 6 people x 2 sessions x 7 expressions, straight and half-left,
    made of synthetic photos (Haar finds the straight ones), plus one file that does not parse."""
    import zipfile

    import cv2

    from fernb.data.synthphotos import synthetic_photo

    codes = {"NE": 0, "HA": 1, "SA": 2, "SU": 3, "AF": 4, "DI": 5, "AN": 6}  # canonical index, by hand
    path = folder / "KDEF_and_AKDEF.zip"
    with zipfile.ZipFile(path, "w") as z:
        i = 0
        for person in ("F01", "F02", "F03", "M01", "M02", "M03"):
            for session in "AB":
                for code, label in codes.items():
                    for pose, yaw in (("S", 0.0), ("HL", -45.0)):
                        p = synthetic_photo(4, i, canvas=(240, 200), face=120, yaw=yaw, roll=0.0, label=label)
                        i += 1
                        name = f"{session}{person}{code}{pose}.JPG"
                        z.writestr(f"KDEF_and_AKDEF/KDEF/{session}{person}/{name}",
                                   cv2.imencode(".jpg", cv2.cvtColor(p.image, cv2.COLOR_RGB2BGR))[1].tobytes())
        z.writestr("KDEF_and_AKDEF/KDEF/AF01/AF01XXS.JPG", b"not a KDEF name")
    return path


@pytest.mark.slow
def test_stage_00_on_a_photo_dataset_runs_the_face_pipeline(project_copy, tmp_path):
    """Notebook 00 on KDEF's layout: faces detected (OpenCV here), failures counted, true yaw kept."""
    archive = _kdef_zip(tmp_path)
    _set_datasets(project_copy, ["kdef"])
    params = {**TINY, "data_root": str(archive), "k_folds": 3, "face_size": 64, "face_backend": "opencv"}
    stages.run_stage("00_data_prep@kdef", project_copy, params, log_output=False)
    out = project_copy / "reports" / "00_data_prep" / "kdef"
    metrics = json.loads((out / "metrics.json").read_text())
    store = load_store(project_copy / "data" / "prepared" / "kdef")
    assert metrics["dataset"] == "kdef" and metrics["images"] == len(store) > 0
    assert store.images.shape[1:] == (64, 64, 3)
    faces = metrics["faces"]
    assert faces["backend"] == "opencv" and faces["fallback"] is False  # asked for, not fallen back to
    _assert_quiet(out / "00_data_prep.ipynb")
    listed = 6 * 2 * 7 * 2
    assert faces["kept"] == len(store) and faces["kept"] + sum(faces["rejected"].values()) == listed
    rejected = pd.read_csv(out / "tables" / "rejected_files.csv")
    assert rejected["files"].sum() == listed - len(store)
    # the publisher's yaw is kept: straight = 0, half left = -45, and the subsets follow it
    assert set(np.unique(store.pose)) <= {0.0, -45.0} and set(store.extras["pose_source"]) == {"publisher"}
    test_yaw = store.pose[store.split == "test"]
    assert faces["pose_subsets_test"]["gt30"] == int((np.abs(test_yaw) > 30).sum())
    # subject-disjoint: no person on two sides
    sides = {}
    for subject, split in zip(store.extras["subject"], store.split):
        sides.setdefault(subject, set()).add(split)
    assert all(len(s) == 1 for s in sides.values())


def _set_datasets(project, datasets, **sections):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["datasets"] = datasets
    for section, values in sections.items():
        params[section].update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _fer2013_folders(root, per_class=3):
    """FER2013 in Kaggle's image-folder layout (msambare): ``train/<class>/Training_<n>.jpg``,
    ``test/<class>/PublicTest_<n>.jpg`` and ``PrivateTest_<n>.jpg``, 48x48 grayscale JPEGs of
    noise with a class-dependent bright band (so the linear probe has something to find)."""
    import cv2

    rng = np.random.default_rng(0)
    n = 0
    for part, usages in (("train", ("Training",)), ("test", ("PublicTest", "PrivateTest"))):
        for k, cls in enumerate(("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")):
            folder = root / part / cls
            folder.mkdir(parents=True)
            for usage in usages:
                for _ in range(per_class * (2 if usage == "Training" else 1)):
                    img = rng.integers(0, 120, (48, 48), dtype=np.uint8)
                    img[6 * k:6 * k + 6] = 230
                    n += 1
                    cv2.imwrite(str(folder / f"{usage}_{10000 + n}.jpg"), img)
    return root


@pytest.mark.slow
def test_dvc_prepares_every_listed_dataset(project_copy, tmp_path):
    """``datasets: [synthfer, fer2013]`` with FERNB_DATA set: stage 00 runs once per dataset and
    writes one prepared store and one report each; the training stages still read data.dataset."""
    _fer2013_folders(tmp_path / "downloads" / "fer2013")
    _set_datasets(project_copy, ["synthfer", "fer2013"], synthfer=dict(n_train=84, n_val=28, n_test=28),
                  data_prep=dict(grid_per_class=2), faces=dict(demo_photos=4, pose_check_photos=10))
    _dvc(project_copy, "init", "--no-scm", "-q")
    os.environ["FERNB_DATA"], previous = str(tmp_path / "downloads"), os.environ.get("FERNB_DATA")
    try:
        listed = _dvc(project_copy, "stage", "list").stdout
        assert "00_data_prep@synthfer" in listed and "00_data_prep@fer2013" in listed
        _dvc(project_copy, "repro", "00_data_prep")
    finally:
        if previous is None:
            del os.environ["FERNB_DATA"]
        else:
            os.environ["FERNB_DATA"] = previous
    fer = load_store(project_copy / "data" / "prepared" / "fer2013")
    assert fer.name == "fer2013" and len(fer) == 7 * 3 * 4 and fer.images.shape[1:] == (48, 48)
    assert {s: int((fer.split == s).sum()) for s in ("train", "val", "test")} == {"train": 42, "val": 21, "test": 21}
    assert len(load_store(project_copy / "data" / "prepared" / "synthfer")) == 140
    for name, images in (("synthfer", 140), ("fer2013", 84)):
        metrics = json.loads((project_copy / "reports" / "00_data_prep" / name / "metrics.json").read_text())
        assert metrics["dataset"] == name and metrics["images"] == images
        assert (project_copy / "reports" / "00_data_prep" / name / "00_data_prep.html").is_file()
        _assert_quiet(project_copy / "reports" / "00_data_prep" / name / "00_data_prep.ipynb")
