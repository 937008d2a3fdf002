"""Notebook 00's report (fernb.data.prep_report): its sentences and metrics from given numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fernb.data import prep_report as pr
from fernb.data.synthfer import generate


@pytest.fixture(scope="module")
def small():
    return generate(40, 14, 14, progress=False)


def test_pose_fit_note_counts_and_optional_parts():
    fit = {"fitted": 1234, "images": 2000, "bad_fit": 5}
    assert pr.pose_fit_note(fit, None) == ("Head pose from **68 landmarks** on **1,234** of 2,000 images; "
                                           "5 implausible fits left without a pose.")
    note = pr.pose_fit_note({**fit, "estimator": "five points", "no_face": 7}, ["test"])
    assert "from **five points**" in note and "(the test split(s) only; `faces.estimate_pose`)" in note
    assert note.endswith("; 5 implausible fits and 7 frames without a face left without a pose.")
    assert pr.pose_fit_note({"skipped": "no backend"}, None) == "**Head pose not estimated:** no backend."


def test_loading_notes():
    skipped = [{"file": f"f{i}.jpg", "reason": "bad"} for i in range(7)]
    note = pr.skipped_note(skipped, "skip")
    assert note.startswith("**7 unreadable file(s) were skipped** (`on_unreadable='skip'`)") and "`f4.jpg`" in note
    assert "`f5.jpg`" not in note
    assert "rule `majority`, ties `drop`" in pr.dropped_heading("ferplus", {"vote_rule": "majority", "vote_ties": "drop"}, {})
    assert pr.dropped_heading("rafdb", {}, {"wild_classes": 7}) == "Images dropped by the class set (`wild_classes: 7`):"
    assert pr.kept_note({"kept": 1500, "listed": 1600, "alignment": "eyes"}).startswith("**1,500** of 1,600 listed")
    assert "OpenCV fallback" in pr.fallback_note("OpenCV", "no weights")


def test_class_balance_note_names_the_extremes(small):
    counts = small.counts()
    train = counts["train"][counts["train"] > 0]
    ratio = float(train.max() / train.min())
    note = pr.class_balance_note("synthfer", small, counts, ratio)
    assert f"holds **{int(counts['train'].sum())}** images" in note
    assert f"*{train.idxmax()}* ({int(train.max())}), is **{ratio:.1f}×** the smallest, *{train.idxmin()}*" in note
    assert pr.class_balance_note("facial_expressions", small, counts, None).startswith(
        f"**facial_expressions is a test-only set:** {len(small)} test images")


def test_pose_and_probe_notes_by_hand():
    row = pd.Series({"images": 1000, "known_yaw": 900, "yaw_gt_30": 250, "yaw_gt_45": 120})
    assert pr.pose_subsets_note(row, "kdef") == ("Of 1,000 test images, 900 have a known yaw: **250** form the Pose >30° "
                                                 "subset and **120** the >45° subset.")
    assert "No test image of kdef" in pr.pose_subsets_note(row.replace(900, 0), "kdef")
    probe = {"train_images": 6000, "val_accuracy": 0.5, "val_balanced_accuracy": 0.41, "majority_class_share": 0.25,
             "chance_balanced": 1 / 7}
    assert pr.linear_probe_note(probe) == ("Linear probe on 6,000 training images: validation accuracy **0.500**, balanced "
                                           "accuracy **0.410** — against 0.250 for always guessing the largest class and "
                                           "0.143 balanced chance.")
    assert pr.linear_probe_note(None).startswith("*No linear probe")
    five = pd.Series({"five-point": 12.34, "68-point": 5.0})
    assert "**12.3°** against 5.0° from 68 landmarks" in pr.five_point_note(five)


def test_pose_check_note_says_further_or_less():
    summary = {"same_bin": 0.8, "same_sign": 0.9, "mae": 7.25, "frontal_misread": 0.1, "half_turned_outward_bias": 6.0,
               "gt45_agree": 0.7, "gt30_agree": 0.75, "pitch_bias": -3.0}
    note = pr.pose_check_note(summary)
    assert "**80%** of faces" in note and "(mean absolute error 7.2°)" in note and "read 6° further turned" in note
    assert "pitch is off by -3° on average" in note
    assert "read 6° less turned" in pr.pose_check_note({**summary, "half_turned_outward_bias": -6.0})


def test_face_notes():
    class Fallback:
        label, losses = "OpenCV Haar cascades", ("no landmarks", "no pose")
    info = {"backend": {"backend": "opencv"}, "fallback_reason": "no weights"}
    assert pr.face_backend_note(info, Fallback) == ("⚠️ **Face backend: OpenCV Haar cascades (fallback).** face-alignment "
                                                    "could not be used: no weights.\n\nLost with the fallback: "
                                                    "no landmarks; no pose.")
    assert pr.face_backend_note({"backend": {"backend": "fan"}}, None) == "**Face backend:** `fan` — {'backend': 'fan'}"
    demo = {"found_rate": 0.95, "photos": 40, "faces_per_second": 12.4, "alignment": "eyes", "eye_error_median_px": 1.26}
    assert pr.face_demo_note("fan", demo, 224) == ("`fan` found a face in **95%** of 40 synthetic photos (12 photos/s on this "
                                                   "machine); aligned by eyes. The true eye centres land a median **1.3 px** "
                                                   "from the template's in the 224-px crop (0 would be perfect).")


def test_blank_and_duplicates_note():
    dup = {"duplicate_groups": 3, "duplicate_images": 7, "redundant_copies": 4, "cross_split_groups": 1,
           "label_conflict_groups": 2}
    assert pr.blank_and_duplicates_note(5, dup) == ("**5** near-blank images. **3** groups of byte-identical images "
                                                    "(7 images, 4 redundant copies); **1** groups span more than one "
                                                    "split and **2** carry conflicting labels.")


def test_au_region_panels_show_the_active_aus_of_a_frontal_face():
    classes = ["neutral", "happy", "sad", "surprise", "fear", "disgust", "anger"]
    panels = pr.au_region_panels({"synth_seed": 0, "contempt": False}, classes, image_size=64)
    assert list(panels) == ["happy", "surprise"]
    image, masks = panels["happy"]
    assert image.shape == (64, 64)
    assert any(t.startswith("AU12 (") for t in masks) and any(t.startswith("AU6 (") for t in masks)
    assert all(m.shape == (64, 64) and m.dtype == bool for m in masks.values())
    assert any(t.startswith("AU26 (") for t in panels["surprise"][1])


def test_metrics_and_headline(small):
    stats = pd.DataFrame({"mean": [0.4], "std": [0.2]}, index=pd.Index(["train"], name="split"))
    dup = {"duplicate_groups": 0}
    row = pd.Series({"known_yaw": 14, "yaw_gt_30": 5, "yaw_gt_45": 3})
    faces = pr.faces_metrics({"backend": {"backend": "opencv"}, "fallback_reason": "x"}, {"photos": 4}, {"mae": 1.0},
                             row, None, {"kept": None})
    assert faces["backend"] == "opencv" and faces["fallback"] is True
    assert faces["pose_subsets_test"] == {"known_yaw": 14, "gt30": 5, "gt45": 3}
    m = pr.prep_metrics(small, ratio=2.5, pixel_stats=stats, n_blank=1, dup=dup, n_skipped=0, probe=None, faces=faces,
                        timing={"load": 1.0})
    assert m["split_sizes"] == {"train": 40, "val": 14, "test": 14} and m["images"] == 68
    assert m["image_shape"] == [48, 48] and m["pixel_mean_train"] == 0.4 and m["duplicate_groups"] == 0
    no_train = pr.prep_metrics(small, ratio=None, pixel_stats=stats.rename(index={"train": "test"}), n_blank=0, dup={},
                               n_skipped=0, probe=None, faces={}, timing={})
    assert no_train["pixel_mean_train"] is None and no_train["pixel_std_train"] is None
    assert "linear_probe.val_accuracy" not in pr.prep_headline(None)
    assert pr.prep_headline({"val_accuracy": 0.5})[6] == "linear_probe.val_accuracy"


def test_detectors_on_real_photos_is_one_row_per_backend(monkeypatch):
    monkeypatch.setattr(pr, "raw_photos", lambda source: (None, [np.zeros((8, 8, 3), np.uint8)]))
    monkeypatch.setattr(pr, "available_backends", lambda device=None: ["a", "b"])
    monkeypatch.setattr(pr, "compare_backends", lambda photos, backends: [
        {"backend": b, "found": 0.12345, "photos": len(photos)} for b in backends])
    table = pr.detectors_on_real_photos("somewhere")
    assert list(table.index) == ["a", "b"] and table.loc["a", "found"] == 0.123

