"""Results that can be committed: what a finished real-data run leaves, without a pixel of the data.

A real-data profile (FER2013, FERPlus) runs the pipeline on data the repository must never
hold (docs/data.md). :func:`export` copies what a reader needs into
``results/<dataset>/`` and nothing else; :func:`check_results` is what a test and
``fernb results check`` hold every committed folder to; :mod:`fernb.workbook.results_table`
puts the headline numbers of every committed folder into README.md and the reports' index.

What is copied (the folder mirrors the project's layout, so it is a project root to
:func:`fernb.runs.stage_runs`: ``stage_runs("02_lanmsff", root="results/fer2013")``):

- ``reports/<stage>/``: ``metrics.json``, ``summary.json``, the stage's other ``*.json`` and
  ``*.csv`` (the claims ledger, the benchmark), ``tables/*.csv``, ``plots/*.csv`` and the figures
  on :data:`FACE_FREE_FIGURES`; for stage 00 the report of the exported dataset and of every
  other real dataset prepared beside it. A stage is left out (and the reason recorded) when its
  executed notebook is missing, failed, ran on another dataset, or finished before the training
  runs it would report on (a report left over from an earlier pipeline).
- ``runs/<stage>/``: every run a training stage's ``runs.json`` lists (01, 02, and 03's
  ablations when they ran on the dataset): ``result.json``, ``history.csv``, ``predictions.csv``
  (ids, labels, probabilities: no pixels), a model card (``card.json``, ``card.md``,
  :func:`fernb.models.model_card`), and ``model.pt`` when it is at most ``max_model_mb``
  (LANMSFF's weights are ~1.4 MB; HAFEM's are tens of MB); the ``runs.json`` itself.
- ``provenance.json``: the commit (and whether the code was dirty), the date, the command,
  ``params.yaml`` as the run left it (``dvc exp run -S`` writes its overrides there), each
  notebook's injected parameters, ``dvc.lock``'s hashes, the machine, each stage's papermill
  duration and each run's training seconds, what was left out and why, and the sha256 of every
  file written.
- ``README.md`` (generated) and ``LICENSE-weights.md`` when weights are copied.

Never copied: executed notebooks and their HTML (they embed the figures with faces), anything
under ``data/``, arrays (``.npy``/``.npz``), checkpoints for resuming, DVCLive's logs.

**Which figures.** A figure is copied only when its name is on its stage's allow-list
(:data:`FACE_FREE_FIGURES`: charts, curves, matrices); :data:`FACE_FIGURES` lists the figures the
notebooks draw that show faces or a dataset's pixels (sample grids, landmark and AU overlays,
the face pipeline, mean faces, near-blank and duplicate images, the offline ×4 set, the shifted
test faces, saliency maps drawn over faces, annotated video frames). A test reads every
``report.figure`` call of the notebooks and fails on a figure name on neither list.
:func:`check_results` backs the list with detectors: a PNG in which MTCNN finds a face with
probability at least :data:`FACE_SCORE`, or OpenCV's Haar cascades find one, is a problem.
"""
from __future__ import annotations

import datetime
import fnmatch
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import cv2
import torch
import yaml

from fernb.evaluate import measured as measured_mod
from fernb.faces.backends import MTCNNBackend, OpenCVBackend, mtcnn_status
from fernb.machine import CODE_PATHS, environment
from fernb.models import load_model, model_card
from fernb.paths import REPORTS, RUNS, SHIFT_PREFIX, project_root
from fernb.runs import HISTORY, MANIFEST, MODEL, PREDICTIONS, RESULT
from fernb.workbook.report import CAPTIONS, write_json
from fernb.workbook.results_table import (
    MEASUREMENTS,
    PAPER_STAGES,
    PROVENANCE,
    RESULTS_DIR,
    TABLE_BEGIN,
    TABLE_END,
    duration,
    readme_table,
    run_rows,
    training_seconds,
    update_readme,
)

__all__ = ["RESULTS_DIR", "FACE_FREE_FIGURES", "FACE_FIGURES", "ALLOWED_SUFFIXES", "MODEL_LIMIT_MB", "FACE_SCORE",
           "PAPER_STAGES", "TABLE_BEGIN", "TABLE_END", "export", "check_results", "figure_allowed",
           "face_detections", "readme_table", "update_readme"]

DEFAULT_RUNS = ("01_hafem", "02_lanmsff")   # the training stages whose run folders an export copies
LICENSE_WEIGHTS = "LICENSE-weights.md"
CARD_JSON, CARD_MD = "card.json", "card.md"

RUN_FILES = (RESULT, HISTORY, PREDICTIONS)
ALLOWED_SUFFIXES = (".json", ".csv", ".md", ".txt", ".png", ".pt")
MODEL_LIMIT_MB = 5.0
FACE_SCORE = 0.9    # MTCNN's probability from which a detection counts (a chart drew 0.82 once; faces draw 0.95+)

# Figure names (fnmatch patterns) per notebook that show no face and no dataset pixel: charts of
# numbers. Checked by opening every figure of a finished default pipeline.
FACE_FREE_FIGURES: dict[str, tuple[str, ...]] = {
    "00_data_prep": ("class_distribution", "pose_distribution", "pose_estimator_check", "pixel_histograms"),
    "01_hafem": ("learning_curves", "confusion_matrix", "per_class"),
    "02_lanmsff": ("learning_curves", "confusion_matrix", "per_class"),
    "03_ablations": ("*_ladder", "lanmsff_pose", "search_history"),
    "04_cross_dataset": ("transfer_matrix", "largest_drop_confusion", "finetune_*"),
    "05_interpretability": ("cascading_randomisation", "deletion_insertion"),
    "06_statistics": ("forest",),
    "07_fps": ("latency_by_variant", "throughput", "accuracy_vs_fps", "end_to_end"),
}
# ...and those that show faces or a dataset's pixels: never copied.
FACE_FIGURES: dict[str, tuple[str, ...]] = {
    "00_data_prep": ("samples_per_class", "landmarks_by_pose", "au_regions_*", "face_pipeline", "mean_faces",
                     "near_blank", "duplicate_example"),
    "02_lanmsff": ("offline_x4",),
    "04_cross_dataset": ("shift_faces",),
    "05_interpretability": ("maps_*", "pose_maps"),
    "07_fps": ("predict_frames",),
}

# What the export says about the data each dataset's weights were trained on.
DATA_TERMS = {
    "fer2013": "FER2013 is the data of the ICML 2013 Kaggle challenge \"Challenges in Representation Learning\". "
               "Its images carry no licence; they are used throughout the research literature for research only.",
    "ferplus": "FERPlus is Microsoft's re-annotation of FER2013: its labels are MIT-licensed, its images are "
               "FER2013's, which carry no licence and are used for research only.",
    "synthfer": "SynthFER is rendered by fernb itself (fernb/data/synthfer.py): no third-party images.",
}
DEFAULT_TERMS = "The images' terms are their publisher's; this export assumes research use only."

_STAGE = re.compile(r"\d\d_[a-z0-9_]+")


# ------------------------------------------------------------------------------------ figures
def figure_allowed(stage: str, name: str) -> bool:
    """Whether figure ``name`` (no ``.png``) of notebook ``stage`` (``00_data_prep``, ``02_lanmsff``...;
    a foreach item such as ``@fer2013`` is ignored) is on :data:`FACE_FREE_FIGURES`."""
    patterns = FACE_FREE_FIGURES.get(stage.partition("@")[0], ())
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@functools.lru_cache(maxsize=1)
def _detectors() -> tuple:
    found = [("haar", OpenCVBackend())]
    if mtcnn_status()["ready"]:
        found.append(("mtcnn", MTCNNBackend(device="cpu")))
    return tuple(found)


def face_detections(png: str | os.PathLike) -> list[str]:
    """What the face detectors find in an image file, one description per face (empty: none).

    OpenCV's Haar cascades (frontal, then profile) count at any score; MTCNN (facenet-pytorch,
    :mod:`fernb.faces.backends`) from :data:`FACE_SCORE`. On every figure of a finished default
    pipeline, neither fires on a chart and at least one fires on every figure of faces (the
    mean faces only Haar, the turned-face saliency maps only Haar)."""
    image = cv2.imread(str(png), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{png} is not a readable image")
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    found = []
    for name, backend in _detectors():
        for face in backend.detect(rgb):
            if name == "mtcnn" and not face.score >= FACE_SCORE:
                continue
            box = ", ".join(f"{v:.0f}" for v in face.box)
            score = f" p={face.score:.2f}" if name == "mtcnn" else ""
            found.append(f"{name}{score} at ({box})")
    return found


# ------------------------------------------------------------------------------------- export
def export(dataset: str, root: str | os.PathLike | None = None, out: str | os.PathLike | None = None, *,
           command: str | None = None, max_model_mb: float = MODEL_LIMIT_MB,
           runs: Sequence[str] | None = DEFAULT_RUNS) -> Path:
    """Copy what the finished pipeline under ``root`` (default: the project root) has for
    ``dataset`` into ``out`` (default ``root/results/<dataset>``), replacing a previous export.

    Raises ValueError naming the folder when stages 01 and 02 have not trained here, or when one
    of them trained on another dataset, and when ``out`` exists but is not an export. ``command``
    is recorded in ``provenance.json`` (``fernb results export`` passes its command line).
    ``runs``: the training stages whose run folders are copied (default :data:`DEFAULT_RUNS`, the two
    papers' models; None: every one that trained on ``dataset`` — 03's ablations hold many runs, each
    with its per-sample predictions, tens of MB). ``measurements.json`` holds what the claims ledger
    reads back (:func:`measurements_for_export`).
    """
    root = Path(root).resolve() if root is not None else project_root()
    out = Path(out).resolve() if out is not None else root / RESULTS_DIR / dataset
    manifests, others = _training_manifests(dataset, root)
    if out.exists() and any(out.iterdir()) and not (out / PROVENANCE).is_file():
        raise ValueError(f"{out} exists and holds no {PROVENANCE}: it is not an earlier export, so it is not "
                         "replaced; remove it or choose another --out")
    work = out.parent / f".{out.name}.partial-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        record = _write_export(dataset, root, work, manifests, max_model_mb, runs)
        write_json(work / MEASUREMENTS, measurements_for_export(dataset, root))
        record["left_out"] += [{"path": (RUNS / stage).as_posix(), "reason": f"its runs are on {', '.join(names)}"}
                               for stage, (_, names) in others.items()]
        record["command"] = command
        _finish(dataset, root, work, record)
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return out


def measurements_for_export(dataset: str, root: Path, n_boot: int = 2000, seed: int = 0) -> dict[str, dict]:
    """What the claims ledger reads back from this export (``measurements.json``): the pipeline's
    own measurements on ``dataset`` (:func:`fernb.evaluate.measured.measurements`) of the families
    :data:`fernb.evaluate.measured.EXPORTED_FAMILIES` — test accuracy with its interval, the
    leak-free accuracy and its difference, pose subsets, zero-shot transfers."""
    found = measured_mod.measurements(root, n_boot=n_boot, seed=seed, parameters=False)
    return measured_mod.exportable({k: v for k, v in found.items() if "@" not in k}, dataset)


def _training_manifests(dataset: str, root: Path) -> tuple[dict[str, dict], dict[str, tuple[Path, list[str]]]]:
    """Every ``runs/<stage>/runs.json`` whose runs are all on ``dataset``, and the others with their
    datasets; ValueError when stage 01 or 02 trained on another dataset, or neither trained."""
    found, other = {}, {}
    for path in sorted((root / RUNS).glob(f"*/{MANIFEST}")):
        manifest = json.loads(path.read_text())
        datasets = sorted({str(run.get("dataset")) for run in manifest.get("runs", [])})
        if datasets == [dataset]:
            found[path.parent.name] = manifest
        else:
            other[path.parent.name] = (path, datasets)
    for stage in PAPER_STAGES:
        if stage in other:
            path, datasets = other[stage]
            raise ValueError(f"{path} lists runs on {', '.join(datasets) or 'nothing'}, not {dataset}: stage {stage} "
                             f"did not train on {dataset} in {root} (expected every run's dataset to be {dataset})")
    if not any(stage in found for stage in PAPER_STAGES):
        raise ValueError(f"{root} has no finished training stage to export for {dataset}: expected "
                         + " or ".join(f"{RUNS / s / MANIFEST}" for s in PAPER_STAGES)
                         + f" listing runs on {dataset} (run `fernb train` or `dvc exp run` first)")
    return found, other


def _write_export(dataset: str, root: Path, out: Path, manifests: dict[str, dict], max_model_mb: float,
                  runs) -> dict:
    record = {"runs": {}, "run_seconds": {}, "stage_seconds": {}, "stage_times": {}, "stage_parameters": {},
              "reports": [], "left_out": [], "models_left_out": [], "training_environments": []}
    finished: dict[str, datetime.datetime] = {}    # per training stage: when its newest run finished
    cards: dict[str, tuple[dict, str]] = {}
    copied: set[str] = set()
    for stage, manifest in manifests.items():
        if runs is not None and stage not in runs:
            record["left_out"].append({"path": (RUNS / stage).as_posix(), "reason": "not asked for (runs=...)"})
            continue
        entries = []
        for entry in manifest["runs"]:
            src = root / entry["dir"]
            rel = Path(entry["dir"])
            if rel.as_posix() in copied:        # 03's ladders share configurations: one folder, listed twice
                entries.append(entry)
                continue
            if rel.parts[:1] != (RUNS.as_posix(),) or ".." in rel.parts or not (src / RESULT).is_file():
                record["left_out"].append({"path": entry["dir"], "reason": "not a finished run under runs/"})
                continue
            missing = [f for f in RUN_FILES if not (src / f).is_file()]
            if missing:
                record["left_out"].append({"path": entry["dir"], "reason": f"{', '.join(missing)} missing"})
                continue
            dst = out / rel
            dst.mkdir(parents=True, exist_ok=True)
            for name in RUN_FILES:
                shutil.copy2(src / name, dst / name)
            info = json.loads((src / RESULT).read_text())
            record["run_seconds"][rel.as_posix()] = training_seconds(src)
            env = {k: v for k, v in (info.get("environment") or {}).items() if k != "date"}
            if env and env not in record["training_environments"]:
                record["training_environments"].append(env)
            date = _when((info.get("environment") or {}).get("date"))
            if date is not None:
                finished[stage] = max(finished.get(stage, date), date)
            _copy_model(src, dst, rel, max_model_mb, record)
            _write_card(src, dst, entry, cards, record)
            entries.append(entry)
            copied.add(rel.as_posix())
            record["runs"].setdefault(stage, []).append(rel.as_posix())
        write_json(out / RUNS / stage / MANIFEST,
                   {"stage": stage, "runs": entries,
                    "note": f"run folders relative to this results folder: fernb.runs.stage_runs({stage!r}, "
                            "root=<this folder>) reads them"})
    for stage, folder in _report_folders(dataset, root):
        # a paper stage's report must be newer than its own runs; any later stage's than every run it reads
        reads = [stage] if stage in PAPER_STAGES else [*PAPER_STAGES, stage]
        latest = max((finished[s] for s in reads if s in finished), default=None)
        _copy_report(stage, folder, root, out, dataset, latest, record)
    return record


def _when(text) -> datetime.datetime | None:
    try:
        stamp = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)


def _copy_model(src: Path, dst: Path, rel: Path, max_model_mb: float, record: dict) -> None:
    model = src / MODEL
    if not model.is_file():
        return
    size = model.stat().st_size
    if size <= max_model_mb * 1e6:
        shutil.copy2(model, dst / MODEL)
    else:
        record["models_left_out"].append({"path": (rel / MODEL).as_posix(), "megabytes": round(size / 1e6, 1),
                                          "reason": f"larger than the {max_model_mb:g} MB limit"})


def _write_card(src: Path, dst: Path, entry: dict, cards: dict, record: dict) -> None:
    """The run's model card (parameters, BN statistics, FLOPs per component), from its
    ``model.pt`` (else built from the manifest's name and arguments); one per configuration."""
    key = json.dumps([entry["model"], entry["model_kwargs"], len(entry["classes"])], sort_keys=True, default=str)
    if key not in cards:
        try:
            if (src / MODEL).is_file():
                card = model_card(load_model(src / MODEL), name=entry["model"])
            else:
                kwargs = {k: v for k, v in entry["model_kwargs"].items() if k != "pretrained"}
                card = model_card(entry["model"], num_classes=len(entry["classes"]), **kwargs)
            cards[key] = (card.as_dict(), f"# Model card: {entry['model']}\n\n```\n{card}\n```\n")
        except Exception as err:   # a card is a description: a model that cannot be rebuilt here is said, not fatal
            cards[key] = ({"name": entry["model"], "error": f"{type(err).__name__}: {err}"},
                          f"# Model card: {entry['model']}\n\nNot built: {type(err).__name__}: {err}\n")
            record["left_out"].append({"path": f"{entry['dir']}/{CARD_JSON}", "reason": cards[key][0]["error"]})
    card_json, card_md = cards[key]
    write_json(dst / CARD_JSON, {**card_json, "model_kwargs": entry["model_kwargs"]})
    (dst / CARD_MD).write_text(card_md)


def _report_folders(dataset: str, root: Path) -> list[tuple[str, Path]]:
    """``(stage, folder)`` of every report to consider: stage 00 for ``dataset`` and for every other
    real dataset prepared here (not SynthFER's nor its shifts', unless exporting SynthFER), then
    each later numbered stage."""
    base = root / REPORTS
    found = []
    prep = base / "00_data_prep"
    if prep.is_dir():
        for item in sorted(p for p in prep.iterdir() if p.is_dir()):
            if item.name == dataset or (item.name != "synthfer" and not item.name.startswith(SHIFT_PREFIX)):
                found.append((f"00_data_prep@{item.name}", item))
    if base.is_dir():
        found += [(p.name, p) for p in sorted(base.iterdir())
                  if p.is_dir() and _STAGE.fullmatch(p.name) and p.name != "00_data_prep"]
    return found


def _copy_report(stage: str, folder: Path, root: Path, out: Path, dataset: str, latest, record: dict) -> None:
    notebook_name = stage.partition("@")[0]
    rel = folder.relative_to(root)
    notebook = folder / f"{notebook_name}.ipynb"
    if not notebook.is_file():
        record["left_out"].append({"path": rel.as_posix(), "reason": f"no executed {notebook.name}: the stage has "
                                   "not run here (files there are from elsewhere, e.g. git-tracked reports)"})
        return
    try:
        papermill = json.loads(notebook.read_text())["metadata"]["papermill"]
    except (ValueError, KeyError) as err:
        record["left_out"].append({"path": rel.as_posix(), "reason": f"{notebook.name} has no papermill record ({err})"})
        return
    params = papermill.get("parameters") or {}
    ended = _when(papermill.get("end_time"))
    reason = None
    if papermill.get("exception"):
        reason = "the stage failed (papermill recorded an exception)"
    elif papermill.get("end_time") is None:
        reason = "the stage did not finish (papermill recorded no end time: it is running or was interrupted)"
    elif "dataset" in params and params["dataset"] != dataset and not stage.startswith("00_"):
        reason = f"the stage ran on {params['dataset']}, not {dataset}"
    elif not stage.startswith("00_") and latest is not None and (ended is None or ended < latest):
        reason = (f"the stage finished ({papermill.get('end_time')}) before the last {dataset} training run "
                  f"({latest.isoformat()}): a report of an earlier pipeline")
    if reason:
        record["left_out"].append({"path": rel.as_posix(), "reason": reason})
        return
    record["reports"].append(rel.as_posix())
    record["stage_seconds"][stage] = papermill.get("duration")
    record["stage_times"][stage] = {"start": papermill.get("start_time"), "end": papermill.get("end_time")}
    record["stage_parameters"][stage] = params
    dst = out / rel
    for path in sorted(folder.glob("*")):
        if path.is_file() and path.suffix in (".json", ".csv"):
            _copy(path, dst / path.name)
    for sub in ("tables", "plots"):
        for path in sorted((folder / sub).glob("*.csv")):
            _copy(path, dst / sub / path.name)
    for path in sorted((folder / "figures").glob("*")):
        if path.name == CAPTIONS:
            _copy(path, dst / "figures" / path.name)   # the figures' titles (text)
        elif path.suffix == ".png" and figure_allowed(notebook_name, path.stem):
            _copy(path, dst / "figures" / path.name)
        else:
            why = "shows faces (FACE_FIGURES)" if any(fnmatch.fnmatchcase(path.stem, p) for p in
                                                      FACE_FIGURES.get(notebook_name, ())) else "not on the figure allow-list"
            record["left_out"].append({"path": path.relative_to(root).as_posix(), "reason": why})


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _lock_hashes(root: Path) -> dict | None:
    """``dvc.lock``'s per-stage dependency and output hashes (``{stage: {deps, outs}}``), or None."""
    path = root / "dvc.lock"
    if not path.is_file():
        return None
    lock = yaml.safe_load(path.read_text()) or {}
    digest = lambda items: {i["path"]: i.get("md5") or i.get("hash") for i in items or []}  # noqa: E731
    return {name: {"cmd": stage.get("cmd"), "deps": digest(stage.get("deps")), "outs": digest(stage.get("outs"))}
            for name, stage in (lock.get("stages") or {}).items()}


def _finish(dataset: str, root: Path, out: Path, record: dict) -> None:
    """provenance.json, README.md and LICENSE-weights.md, from what was written."""
    head = (_git(root, "rev-parse", "HEAD") or "").strip() or None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    changed = [line[3:] for line in (status or "").splitlines() if line.strip()]
    code = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    env = environment("cuda" if torch.cuda.is_available() else "cpu")
    env["commit"] = head[:7] if head else None
    lock = root / "requirements.lock"
    env["lock_sha256"] = hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None
    params_path = root / "params.yaml"
    weights = sorted(p.relative_to(out).as_posix() for p in out.rglob(MODEL))
    if weights:
        (out / LICENSE_WEIGHTS).write_text(_weights_licence(dataset, weights))
    provenance = {
        "dataset": dataset, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": record.pop("command"), "root": str(root),
        # dirty: the code (fernb.machine.CODE_PATHS) differs from the commit; changed_files: every tracked
        # file that does, the pipeline's own outputs (dvc.lock, reports/) and params.yaml included
        "commit": head, "dirty": bool(code.strip()) if code is not None else None, "changed_files": changed,
        "params": yaml.safe_load(params_path.read_text()) if params_path.is_file() else None,
        "stage_parameters": record.pop("stage_parameters"), "dvc_lock": _lock_hashes(root),
        "environment": env, "training_environments": record.pop("training_environments"),
        "stage_seconds": record.pop("stage_seconds"), "stage_times": record.pop("stage_times"),
        "run_seconds": record.pop("run_seconds"), **record,
    }
    (out / "README.md").write_text(_folder_readme(dataset, out, provenance))
    provenance["files"] = {p.relative_to(out).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                           for p in sorted(out.rglob("*")) if p.is_file() and p.name not in ("README.md", PROVENANCE)}
    write_json(out / PROVENANCE, provenance)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights_licence(dataset: str, weights: list[str]) -> str:
    listing = "\n".join(f"- `{w}`" for w in weights)
    return (f"# Weights in this folder\n\n{listing}\n\n"
            f"These weights were trained on **{dataset}** by the fernb pipeline (provenance.json: commit, "
            f"parameters, machine). {DATA_TERMS.get(dataset, DEFAULT_TERMS)}\n\n"
            "**Research use only.** The weights are derived from that data; they are shared for reproducing and "
            "auditing the numbers in this folder, with no warranty and no licence beyond what the data allows. "
            "Do not use them to make decisions about people.\n")


# --------------------------------------------------------------------------- the folder README
def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def _folder_readme(dataset: str, out: Path, prov: dict) -> str:
    rows = run_rows(out)
    paper_rows = [r for r in rows if r["stage"] in PAPER_STAGES]
    lines = [f"# Results on {dataset}", "",
             f"Written by `{prov['command'] or 'fernb.workbook.results.export'}` on {prov['date']} from commit "
             f"`{(prov['commit'] or 'unknown')[:12]}`" + (" (with uncommitted changes: see provenance.json)"
                                                           if prov["dirty"] else "") + ". Nothing here holds a "
             "pixel of the data: numbers, per-sample predictions (ids, labels, probabilities), charts that show no "
             "face, model cards" + (", and small weights (LICENSE-weights.md)" if (out / LICENSE_WEIGHTS).is_file()
                                    else "") + ".", "",
             "## What is here", "",
             "- `provenance.json`: commit, date, command, params.yaml as the run used it, each notebook's parameters, "
             "dvc.lock's hashes, the machine, wall times, what was left out and why, a sha256 per file;",
             "- `runs/<stage>/runs.json` and one folder per run: `result.json`, `history.csv`, `predictions.csv`, "
             "`card.json`/`card.md`" + (", `model.pt`" if (out / LICENSE_WEIGHTS).is_file() else "")
             + f"; read them with `fernb.runs.stage_runs(stage, root=\"{RESULTS_DIR.as_posix()}/{dataset}\")`;",
             "- `reports/<stage>/`: metrics.json, summary.json, tables/, plots/ and the face-free figures of each "
             "stage that ran (" + (", ".join(f"`{r}`" for r in prov["reports"]) or "none") + ").", ""]
    if paper_rows:
        lines += ["## Scale and headline numbers (test split)", "",
                  "| stage | model | seed | epochs (run / set) | image size | train images | test accuracy % | "
                  "macro-F1 % | training time |", "|---|---|---|---|---|---|---|---|---|"]
        for r in paper_rows:
            lines.append(f"| {r['stage']} | {r['model']} | {r['seed']} | {r['epochs_run']} / {r['epochs']} | "
                         f"{r['img_size']} px | {r['train_images']} | {_pct(r['accuracy'])} | {_pct(r['f1'])} | "
                         f"{duration(r['seconds'])} |")
        lines.append("")
    others = [r for r in rows if r["stage"] not in PAPER_STAGES]
    if others:
        lines += [f"Also here: {len({r['dir'] for r in others})} run(s) of " + ", ".join(sorted({r['stage'] for r in others}))
                  + " (their reports hold the summaries).", ""]
    if prov["stage_seconds"]:
        # A training stage's notebook reuses finished runs of its configuration (fernb.runs), so its
        # last execution can be seconds long while the runs it reports took hours (or a resumed run be only
        # partly trained in it): say so beside it.
        trained = {}
        for run, seconds in prov.get("run_seconds", {}).items():
            stage = Path(run).parts[1] if len(Path(run).parts) > 1 else None
            trained[stage] = trained.get(stage, 0.0) + (seconds or 0.0)
        lines += ["## Wall time per stage (papermill)", "", "| stage | time | note |", "|---|---|---|"]
        for stage, seconds in prov["stage_seconds"].items():
            note = (f"its runs trained for {duration(trained[stage])}, all or part of it before this execution "
                    "(reused or resumed)"
                    if trained.get(stage, 0.0) > seconds else "")
            lines.append(f"| {stage} | {duration(seconds)} | {note} |")
        lines.append("")
    if prov["left_out"] or prov["models_left_out"]:
        lines += ["## Left out", ""]
        lines += [f"- `{x['path']}`: {x['reason']}" for x in prov["left_out"]]
        heavy = prov["models_left_out"]
        if heavy:
            sizes = sorted(x["megabytes"] for x in heavy)
            lines.append(f"- `model.pt` of {len(heavy)} run(s), {sizes[0]:g}–{sizes[-1]:g} MB each: over the size "
                         "limit (provenance.json's models_left_out names them)")
        lines.append("")
    lines += ["## Data and licence", "", DATA_TERMS.get(dataset, DEFAULT_TERMS)
              + " Executed notebooks, their HTML and every figure that shows a face stay out of the repository.", ""]
    if (out / LICENSE_WEIGHTS).is_file():
        lines += [f"Weights: see `{LICENSE_WEIGHTS}` (trained on {dataset}, research use only).", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- checking
def check_results(folder: str | os.PathLike) -> list[str]:
    """The problems of a committed results folder; an empty list means it may be committed.

    Provenance missing or without commit, params, environment or stage/run times; a file whose
    type is not on :data:`ALLOWED_SUFFIXES`; a PNG that is not a figure on
    :data:`FACE_FREE_FIGURES`; a PNG in which a detector finds a face (:func:`face_detections`);
    a CSV with a ``pixels`` column; a checkpoint other than a run's ``model.pt``, or weights
    without ``LICENSE-weights.md``; a run a ``runs.json`` lists that is not there; a file changed
    since the export (its sha256 differs from provenance.json's).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    problems = []
    provenance = {}
    path = folder / PROVENANCE
    if not path.is_file():
        problems.append(f"{path}: missing (expected commit, params, environment and wall times)")
    else:
        try:
            provenance = json.loads(path.read_text())
        except ValueError as err:
            problems.append(f"{path}: not JSON ({err})")
        for key in ("commit", "params", "environment"):
            if not provenance.get(key):
                problems.append(f"{path}: no {key}")
        if not (provenance.get("stage_seconds") or provenance.get("run_seconds")):
            problems.append(f"{path}: no stage_seconds or run_seconds (the wall times)")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for p in files:
        rel = p.relative_to(folder)
        if p.suffix.lower() not in ALLOWED_SUFFIXES:
            problems.append(f"{rel}: a {p.suffix or 'suffix-less'} file (allowed: {', '.join(ALLOWED_SUFFIXES)})")
        elif p.suffix.lower() == ".png":
            problems += _check_png(folder, rel)
        elif p.suffix.lower() == ".csv":
            with p.open(errors="replace") as f:
                header = f.readline().strip().lower().split(",")
            if "pixels" in header:
                problems.append(f"{rel}: has a pixels column")
        elif p.suffix.lower() == ".pt":
            if p.name != MODEL or rel.parts[0] != RUNS.as_posix():
                problems.append(f"{rel}: the only checkpoints allowed are runs' {MODEL}")
            elif not (folder / LICENSE_WEIGHTS).is_file():
                problems.append(f"{rel}: weights without {LICENSE_WEIGHTS}")
    for manifest in sorted(folder.glob(f"{RUNS.as_posix()}/*/{MANIFEST}")):
        for entry in json.loads(manifest.read_text()).get("runs", []):
            if not (folder / entry["dir"] / RESULT).is_file():
                problems.append(f"{manifest.relative_to(folder)}: lists {entry['dir']}, which holds no {RESULT} here")
    for rel, expected in (provenance.get("files") or {}).items():
        p = folder / rel
        if p.is_file() and _sha256(p) != expected.get("sha256"):
            problems.append(f"{rel}: changed since the export (sha256 differs from {PROVENANCE}'s)")
    return problems


def _check_png(folder: Path, rel: Path) -> list[str]:
    parts = rel.parts
    stage = parts[1] if len(parts) >= 4 and parts[0] == REPORTS.as_posix() else None
    if stage is None or parts[-2] != "figures" or not figure_allowed(stage, rel.stem):
        problems = [f"{rel}: not a figure on the allow-list (reports/<stage>/figures/<name>.png, FACE_FREE_FIGURES)"]
    else:
        problems = []
    try:
        faces = face_detections(folder / rel)
    except ValueError as err:
        return problems + [f"{rel}: {err}"]
    if faces:
        problems.append(f"{rel}: a face detector finds {len(faces)} face(s): {'; '.join(faces[:3])}")
    return problems
