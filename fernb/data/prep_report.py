"""Notebook 00's report: the sentences, notes and metrics of the data-preparation stage.

The measurements come from :mod:`fernb.data.explore` (class balance, pixels, duplicates,
pose subsets, the linear probe), :mod:`fernb.data.synthphotos` (the face pipeline on
synthetic photos) and :func:`fernb.faces.pose.check_summary`; this module turns their numbers
into what ``notebooks/00_data_prep.ipynb`` says and records (``metrics.json``), so the
notebook only calls, shows and saves. Every number in a sentence comes from its arguments.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from fernb.data.core import FERData
from fernb.data.facialexpressions import raw_photos
from fernb.data.synthfer import AUS, render_sample
from fernb.faces.backends import available_backends, compare_backends

__all__ = ["pose_fit_note", "skipped_note", "dropped_heading", "fallback_note", "kept_note", "class_balance_note",
           "face_backend_note", "face_demo_note", "detectors_on_real_photos", "pose_check_note", "five_point_note",
           "pose_subsets_note", "blank_and_duplicates_note", "linear_probe_note", "au_region_panels", "faces_metrics",
           "prep_metrics",
           "prep_headline"]


# --------------------------------------------------------------------------------------
# Section 1: what loading found
# --------------------------------------------------------------------------------------
def pose_fit_note(pose_fit: dict, pose_splits: list[str] | None) -> str:
    """How many images got a head pose from fitted landmarks (:func:`fernb.data.photos.annotate_pose`)."""
    if "skipped" in pose_fit:
        return f"**Head pose not estimated:** {pose_fit['skipped']}."
    return (f"Head pose from **{pose_fit.get('estimator', '68 landmarks')}** on **{pose_fit['fitted']:,}** of "
            f"{pose_fit['images']:,} images"
            + ("" if pose_splits is None else f" (the {', '.join(pose_splits)} split(s) only; `faces.estimate_pose`)")
            + f"; {pose_fit['bad_fit']:,} implausible fits"
            + (f" and {pose_fit['no_face']:,} frames without a face" if pose_fit.get("no_face") else "")
            + " left without a pose.")


def skipped_note(skipped: list[dict], on_unreadable: str) -> str:
    """The unreadable files a loader skipped, the first five named."""
    return (f"**{len(skipped)} unreadable file(s) were skipped** (`on_unreadable={on_unreadable!r}`); the first: "
            + ", ".join(f"`{s['file']}` ({s['reason']})" for s in skipped[:5]))


def dropped_heading(dataset: str, ferplus: dict, wild: dict) -> str:
    """What the table of dropped images counts: FERPlus's vote rule, or a photo set's class set."""
    if dataset == "ferplus":
        return f"Images dropped while turning votes into labels (rule `{ferplus['vote_rule']}`, ties `{ferplus['vote_ties']}`):"
    return f"Images dropped by the class set (`wild_classes: {wild['wild_classes']}`):"


def fallback_note(detector_label: str, reason: str) -> str:
    """Faces of a photo set found by a fallback detector, not face-alignment."""
    return (f"⚠️ **Faces were found by the {detector_label} fallback**, not face-alignment: "
            f"{reason}. Section 6 lists what is lost.")


def kept_note(meta: dict) -> str:
    """How many listed photos became face samples, and how they were aligned."""
    return (f"**{meta['kept']:,}** of {meta['listed']:,} listed images became face samples "
            f"(aligned by: {meta['alignment']}). Files that did not, by reason:")


def class_balance_note(dataset: str, data: FERData, counts: pd.DataFrame, ratio: float | None) -> str:
    """The training split's largest and smallest class, or that the set is test-only."""
    if ratio is None:   # a test-only set (facial_expressions): a target for trained models, never trained on
        return (f"**{dataset} is a test-only set:** {len(data):,} test images and no training or validation split; "
                "its class balance is the test column above. Models trained elsewhere are scored on it (notebook 04).")
    train_counts = counts["train"][counts["train"] > 0]
    return (f"The training split holds **{int(counts['train'].sum()):,}** images. Its largest class, *{train_counts.idxmax()}* "
            f"({int(train_counts.max()):,}), is **{ratio:.1f}×** the smallest, *{train_counts.idxmin()}* ({int(train_counts.min()):,}).")


# --------------------------------------------------------------------------------------
# Sections 5-6: AU regions, the face pipeline, head pose
# --------------------------------------------------------------------------------------
def au_region_panels(synthfer: dict, classes: list[str], labels=("happy", "surprise"),
                     image_size: int = 112) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
    """{label: (image, {"AU (intensity)": mask})}: a frontal SynthFER training face of each of
    ``labels`` (sample 0 of ``synthfer``'s seed) and the mask of every AU active in it."""
    panels = {}
    for label_name in labels:
        sample = render_sample(synthfer["synth_seed"], "train", 0, image_size=image_size,
                               label=classes.index(label_name), yaw=0.0, contempt=synthfer["contempt"])
        intensity = dict(zip(AUS, sample.au_intensity))
        panels[label_name] = (sample.image, {f"{au} ({intensity[au]:.2f})": m for au, m in sample.au_masks.items()
                                             if intensity[au] > 0})
    return panels


def face_backend_note(face_info: dict, detector) -> str:
    """Which face backend runs (``face_info``: the pipeline's config), and, for a fallback
    ``detector``, why and what is lost."""
    if face_info.get("fallback_reason"):
        return (f"⚠️ **Face backend: {detector.label} (fallback).** face-alignment could not be used: "
                f"{face_info['fallback_reason']}.\n\nLost with the fallback: " + "; ".join(detector.losses) + ".")
    return f"**Face backend:** `{face_info['backend']['backend']}` — {face_info['backend']}"


def face_demo_note(backend_name: str, face_demo: dict, face_size: int) -> str:
    """The face pipeline on synthetic photos (:func:`fernb.data.synthphotos.summarise`)."""
    return (f"`{backend_name}` found a face in **{face_demo['found_rate']:.0%}** of {face_demo['photos']} synthetic photos "
            f"({face_demo['faces_per_second']:.0f} photos/s on this machine); aligned by {face_demo['alignment']}. "
            f"The true eye centres land a median **{face_demo['eye_error_median_px']:.1f} px** from the template's "
            f"in the {face_size}-px crop (0 would be perfect).")


def detectors_on_real_photos(source) -> pd.DataFrame:
    """Every offline detector on the real photographs of a facial_expressions ``source``
    (:func:`fernb.faces.backends.compare_backends`; what ``make bench`` prints too), one row per backend."""
    _, photos = raw_photos(source)
    return pd.DataFrame(compare_backends(photos, available_backends(device=None))).set_index("backend").round(3)


def pose_check_note(summary: dict) -> str:
    """What the head-pose estimator's check on synthetic photos shows (:func:`fernb.faces.pose.check_summary`)."""
    outward = summary["half_turned_outward_bias"]
    return (f"The estimate puts **{summary['same_bin']:.0%}** of faces in their true pose bin and gets the turn direction "
            f"right for {summary['same_sign']:.0%} of the turned ones (mean absolute error {summary['mae']:.1f}°). "
            f"A rigid generic face cannot tell a narrow face from a turned one: {summary['frontal_misread']:.0%} of frontal "
            f"faces read as turned beyond 22.5°. Half-turned faces read {abs(outward):.0f}° "
            f"{'further' if outward > 0 else 'less'} turned than they are, so on the >45° edge the estimate agrees with the "
            f"truth for {summary['gt45_agree']:.0%} of faces (>30°: {summary['gt30_agree']:.0%}); pitch is off by "
            f"{summary['pitch_bias']:+.0f}° on average. **Pose subsets built from estimated yaw are approximate, the "
            f"one whose edge lies nearest a common pose the most** — and LANMSFF does not describe how its own lists were "
            f"built, so our Pose-subset numbers are not directly comparable with its tables.")


def five_point_note(five_mae: pd.Series) -> str:
    """The five-point yaw's mean absolute error beside the 68-point one (``all`` row of the check)."""
    return (f"From five points (eye centres, nose tip, mouth corners: what MTCNN gives), the yaw's mean absolute error is "
            f"**{five_mae['five-point']:.1f}°** against {five_mae['68-point']:.1f}° from 68 landmarks on the same faces "
            f"(true points; a detector adds its own error). Datasets whose faces were found by MTCNN carry this coarser "
            f"estimate, labelled `five_point` in their `pose_source`.")


def pose_subsets_note(test_row: pd.Series, name: str) -> str:
    """The test split's Pose >30° and >45° subsets (a row of :func:`fernb.data.explore.pose_subsets_table`)."""
    if not test_row["known_yaw"]:
        return f"*No test image of {name} has a known yaw here, so it has no pose subsets in this run.*"
    return (f"Of {test_row['images']:,} test images, {test_row['known_yaw']:,} have a known yaw: "
            f"**{test_row['yaw_gt_30']:,}** form the Pose >30° subset and **{test_row['yaw_gt_45']:,}** the >45° subset.")


# --------------------------------------------------------------------------------------
# Sections 8-11: blanks and duplicates, the probe, the metrics
# --------------------------------------------------------------------------------------
def blank_and_duplicates_note(n_blank: int, dup: dict) -> str:
    """Near-blank images and byte-identical groups (:func:`fernb.data.explore.duplicate_summary`)."""
    return (f"**{n_blank}** near-blank images. **{dup['duplicate_groups']}** groups of byte-identical images "
            f"({dup['duplicate_images']} images, {dup['redundant_copies']} redundant copies); "
            f"**{dup['cross_split_groups']}** groups span more than one split and "
            f"**{dup['label_conflict_groups']}** carry conflicting labels.")


def linear_probe_note(probe: dict | None) -> str:
    """The linear probe's validation scores beside the majority and chance baselines."""
    if probe is None:
        return ("*No linear probe: the probe fits on the training split and scores on validation, and this set has "
                "neither.*")
    return (f"Linear probe on {probe['train_images']:,} training images: validation accuracy **{probe['val_accuracy']:.3f}**, "
            f"balanced accuracy **{probe['val_balanced_accuracy']:.3f}** — against {probe['majority_class_share']:.3f} for always "
            f"guessing the largest class and {probe['chance_balanced']:.3f} balanced chance.")


def faces_metrics(face_info: dict, face_demo: dict, pose_summary: dict, test_row: pd.Series, pose_fit: dict | None,
                  meta: dict) -> dict:
    """The ``faces`` block of stage 00's metrics: backend, the demo on synthetic photos, the pose
    estimator's check, the test split's pose subsets, the landmark fit and the photos kept."""
    return {
        "backend": face_info["backend"]["backend"],
        "fallback": bool(face_info.get("fallback_reason")),
        "demo": face_demo,
        "pose_estimator": pose_summary,
        "pose_subsets_test": {"known_yaw": test_row["known_yaw"], "gt30": test_row["yaw_gt_30"], "gt45": test_row["yaw_gt_45"]},
        "landmark_fit": pose_fit,
        "kept": meta.get("kept"), "rejected": meta.get("n_rejected"),
    }


def prep_metrics(data: FERData, *, ratio, pixel_stats: pd.DataFrame, n_blank: int, dup: dict, n_skipped: int,
                 probe, faces: dict, timing: dict) -> dict:
    """Stage 00's ``metrics.json``: the dataset's shape and balance, pixels, blanks and duplicates,
    the probe, ``faces`` (the face pipeline's numbers) and the timings."""
    has_train = "train" in pixel_stats.index
    return {
        "dataset": data.name,
        "classes": len(data.classes),
        "images": len(data),
        "split_sizes": {s: int((data.split == s).sum()) for s in ("train", "val", "test")},
        "image_shape": list(data.images.shape[1:]),
        "imbalance_ratio_train": ratio,
        "pixel_mean_train": pixel_stats.loc["train", "mean"] if has_train else None,
        "pixel_std_train": pixel_stats.loc["train", "std"] if has_train else None,
        "near_blank": n_blank,
        **dup,
        "skipped_unreadable": n_skipped,
        "linear_probe": probe,
        "faces": faces,
        "seconds": timing,
    }


def prep_headline(probe) -> list[str]:
    """The metrics keys the index shows for stage 00 (the probe's accuracy when there is one)."""
    return ["dataset", "images", "split_sizes", "near_blank", "duplicate_groups", "cross_split_groups",
            *(["linear_probe.val_accuracy"] if probe is not None else []),
            "faces.backend", "faces.pose_subsets_test.gt30", "faces.pose_subsets_test.gt45"]
