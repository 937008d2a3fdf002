"""fernb predict: checkpoints to per-face rows, CSV/JSON Lines, annotations, interruptions, bad input
(fernb.realtime.predict, with fernb.realtime.media reading and fernb.realtime.annotate writing)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

import fernb.realtime.predict
from fernb.cli import main
from fernb.data.synthphotos import synthetic_photo
from fernb.faces.backends import OpenCVBackend
from fernb.faces.video import write_video
from fernb.labels import SEVEN
from fernb.models import create_model, save_model
from fernb.realtime.media import open_sources
from fernb.realtime.predict import Predictor, predict_sources, training_inputs
from fernb.runs import find_checkpoint

CLASSES = list(reversed(SEVEN))        # not the defaults: a test can tell they were read
PROBS = [f"prob_{c}" for c in CLASSES]
FPS = 5.0
FRONTAL = (0, 1, 3, 4, 5, 6)           # synthetic_photo(0, i, face=150, upright, frontal): the Haar cascade finds these
BLANK_AT = 3                           # the video's frame without a face
OK_COLOUR = (60, 200, 60)              # BGR of an ok face's box in fernb.realtime.annotate.draw


def photo(i: int, face: int = 150) -> np.ndarray:
    return synthetic_photo(0, i, face=face, yaw=0.0, roll=0.0).image


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame of a video, RGB (what fernb predict sees)."""
    cap, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def haar_counts(images: list[np.ndarray]) -> list[int]:
    """Faces the OpenCV backend finds per image: what the rows must account for."""
    backend = OpenCVBackend()
    return [len(backend.detect(image)) for image in images]


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # batches of a few 48x48 faces (conftest)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained LANMSFF for 48x48 grayscale, saved as training now saves it (with its inputs)."""
    torch.manual_seed(0)
    model = create_model("lanmsff", num_classes=7, in_chans=1, img_size=48)
    return save_model(model, tmp_path_factory.mktemp("run") / "model.pt", classes=CLASSES, image_shape=[48, 48],
                      scaling="range")


@pytest.fixture(scope="module")
def predictor(checkpoint) -> Predictor:
    return Predictor.from_checkpoint(checkpoint, device="cpu", face_backend="opencv", batch_size=4)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """Seven 320x400 frames at 5 fps (MJPG .avi): six synthetic faces, a blank frame at BLANK_AT."""
    frames = [photo(i) for i in FRONTAL]
    frames.insert(BLANK_AT, np.full_like(frames[0], 128))
    path = write_video(tmp_path_factory.mktemp("video") / "clip.avi", frames, FPS)
    assert len(read_video(path)) == len(frames)
    return path


# ------------------------------------------------------------------------ rows
def test_video_gives_a_row_per_face_and_one_no_face_row_per_empty_frame(predictor, video, tmp_path):
    source = read_video(video)
    found = haar_counts(source)
    assert found[BLANK_AT] == 0 and sum(n > 0 for n in found) >= 5   # the fixture is what this test needs
    run = predict_sources(predictor, [video], csv=tmp_path / "rows.csv", annotate=tmp_path / "annotated.avi",
                          progress=False)
    rows = pd.DataFrame(run.rows)
    assert (run.frames, run.faces, run.interrupted) == (len(found), sum(found), False)
    assert rows.groupby("frame").size().tolist() == [max(n, 1) for n in found]
    np.testing.assert_allclose(rows["time_s"], rows["frame"] / FPS)
    assert set(rows["source"]) == {str(video)}

    faces = rows[rows["status"] == "ok"]
    assert len(faces) == sum(found)                  # faces of several frames scored in batches of 4, none lost
    probs = faces[PROBS].to_numpy(float)
    assert np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert faces["prediction"].tolist() == [CLASSES[i] for i in probs.argmax(axis=1)]
    assert (faces[["x", "y", "w", "h"]] >= 0).all(axis=None) and (faces["w"] > 20).all()
    one_by_one = Predictor(predictor.model, predictor.inputs, predictor.pipeline, batch_size=1)
    alone = pd.DataFrame(predict_sources(one_by_one, [video], progress=False).rows)
    # scored one by one, each face gets the same probabilities: batching across frames mixes nothing up
    np.testing.assert_allclose(alone.loc[alone["status"] == "ok", PROBS].to_numpy(float), probs, atol=1e-5)

    blank = rows[rows["frame"] == BLANK_AT]
    assert blank["status"].tolist() == ["no_face"]
    assert blank[PROBS + ["prediction", "face", "x", "landmarks"]].isna().all(axis=None)

    csv = pd.read_csv(tmp_path / "rows.csv")
    assert csv["status"].tolist() == rows["status"].tolist()
    np.testing.assert_allclose(csv.loc[csv["status"] == "ok", PROBS].to_numpy(), probs)

    annotated = read_video(tmp_path / "annotated.avi")
    assert len(annotated) == len(source) and annotated[0].shape == source[0].shape == (320, 400, 3)
    assert cv2.VideoCapture(str(tmp_path / "annotated.avi")).get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    assert run.outputs == [tmp_path / "rows.csv", tmp_path / "annotated.avi"]


def test_images_and_a_folder_give_rows_per_face_csv_json_lines_and_annotations(predictor, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    pair = np.concatenate([photo(0), photo(1, face=120)], axis=1)          # two faces, of different sizes
    cv2.imwrite(str(folder / "a_pair.png"), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "b_one.png"), cv2.cvtColor(photo(3), cv2.COLOR_RGB2BGR))
    (folder / "c_broken.png").write_bytes(b"not a png at all")
    (folder / "notes.txt").write_text("not an image: skipped in a folder")
    n_pair, n_one = haar_counts([pair, photo(3)])
    assert n_pair >= 2 and n_one >= 1

    with pytest.warns(RuntimeWarning, match="c_broken.png.*unreadable"):
        run = predict_sources(predictor, [folder], csv=tmp_path / "rows.csv", json_lines=tmp_path / "rows.jsonl",
                              annotate=tmp_path / "annotated", progress=False)
    rows = pd.DataFrame(run.rows)
    names = rows["source"].map(lambda s: Path(s).name)
    assert names.tolist() == ["a_pair.png"] * n_pair + ["b_one.png"] * n_one + ["c_broken.png"]
    pair_rows = rows[names == "a_pair.png"]
    assert pair_rows["face"].tolist() == list(range(n_pair))               # every face, not only the largest...
    assert pair_rows["w"].is_monotonic_decreasing                          # ...largest first
    assert rows.loc[names == "c_broken.png", "status"].tolist() == ["unreadable"]
    assert rows["time_s"].isna().all() and (rows["frame"] == 0).all()

    csv = pd.read_csv(tmp_path / "rows.csv")
    assert list(csv.columns) == list(predictor.columns) and len(csv) == len(rows)
    for text in csv["landmarks"].dropna():                                 # eyes from Haar: a JSON list of points
        assert np.asarray(json.loads(text)).shape[1:] == (2,)
    lines = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert lines == run.rows                                                 # JSON Lines: the rows, losslessly

    written = sorted(p.name for p in (tmp_path / "annotated").iterdir())
    assert written == ["a_pair.png", "b_one.png"]                          # nothing to draw on an unreadable file
    assert cv2.imread(str(tmp_path / "annotated" / "a_pair.png")).shape == pair.shape

    one = predict_sources(predictor, [folder / "b_one.png"], annotate=tmp_path / "one.png", progress=False)
    drawn = cv2.imread(str(tmp_path / "one.png"))
    assert drawn.shape == (320, 400, 3)
    x, y, w, _ = (int(one.rows[0][k]) for k in "xywh")
    assert tuple(drawn[y, x + w]) == OK_COLOUR                             # the box's top-right corner, lossless PNG


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_interruption_midway_keeps_the_frames_done(predictor, checkpoint, video, tmp_path, monkeypatch, capsys, error):
    k = 3
    read = fernb.realtime.predict.read_frames

    def stopping(source, max_frames=None):
        for frame in read(source, max_frames):
            if frame.index == k:
                raise error(f"stopped at frame {k}")
            yield frame

    monkeypatch.setattr(fernb.realtime.predict, "read_frames", stopping)   # the name predict_sources calls
    # one batch for the whole video: the k frames read are scored only because of the interruption
    unbatched = Predictor(predictor.model, predictor.inputs, predictor.pipeline, batch_size=64)
    # .mp4: unreadable unless the writer is released (its index is written last)
    outputs = {"csv": tmp_path / "rows.csv", "annotate": tmp_path / "annotated.mp4", "progress": False}
    if error is KeyboardInterrupt:
        run = predict_sources(unbatched, [video], **outputs)
        assert run.interrupted and run.frames == k
    else:
        # `caught` lives on: its traceback holds the run's locals, so only an explicit release finishes the video
        with pytest.raises(RuntimeError, match=f"stopped at frame {k}") as caught:
            predict_sources(unbatched, [video], **outputs)
        assert caught.traceback[-1].name == "stopping"                     # the reader's error, not a later one
    assert sorted(set(pd.read_csv(tmp_path / "rows.csv")["frame"])) == list(range(k))
    assert len(read_video(tmp_path / "annotated.mp4")) == k                # released: a readable video of k frames

    if error is KeyboardInterrupt:                                          # the command exits non-zero, cleanly
        code = main(["predict", str(checkpoint), str(video), "--csv", str(tmp_path / "cli.csv"),
                     "--face-backend", "opencv", "--device", "cpu", "--quiet"])
        err = capsys.readouterr().err
        assert code == 130 and f"interrupted after {k} frames" in err and "Traceback" not in err
        assert sorted(set(pd.read_csv(tmp_path / "cli.csv")["frame"])) == list(range(k))


# ------------------------------------------------------------------- the model
def test_a_checkpoint_for_another_model_or_class_count_is_refused(checkpoint, tmp_path):
    with pytest.raises(ValueError, match=r"holds a 'lanmsff' model, not 'hafem'"):
        Predictor.from_checkpoint(checkpoint, model="hafem", device="cpu", face_backend="opencv")
    with pytest.raises(ValueError, match="trained for 7 classes, not 8"):
        Predictor.from_checkpoint(checkpoint, num_classes=8, device="cpu", face_backend="opencv")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match="foreign.pt is not a fernb model checkpoint"):
        Predictor.from_checkpoint(foreign, device="cpu", face_backend="opencv")


def test_an_old_checkpoint_reads_its_inputs_from_result_json_else_defaults(tmp_path):
    run_dir = tmp_path / "runs" / "02_lanmsff" / "lanmsff" / "seed0"
    model = create_model("lanmsff", num_classes=7, in_chans=1, img_size=48)
    save_model(model, run_dir / "model.pt", reported_weights="last", seed=0)   # as training wrote it before the extras
    result = {"model": "lanmsff", "dataset": "synthfer", "classes": CLASSES, "config": {"scaling": "image"}}
    (run_dir / "result.json").write_text(json.dumps(result))

    predictor = Predictor.from_checkpoint(tmp_path / "runs" / "02_lanmsff", device="cpu", face_backend="opencv")
    assert predictor.checkpoint == run_dir / "model.pt"
    inputs = predictor.inputs
    assert (inputs.classes, inputs.scaling, inputs.dataset) == (tuple(CLASSES), "image", "synthfer")
    assert inputs.image_shape == (48, 48)                                   # the model's own input, 1 channel
    assert inputs.sources == {"classes": "result.json", "image_shape": "default", "scaling": "result.json",
                              "dataset": "result.json", "framing": "default"}      # its result.json has no framing
    assert "(result.json)" in predictor.describe()

    (run_dir / "result.json").unlink()
    defaults = training_inputs(predictor.model, run_dir / "model.pt")
    assert (defaults.classes, defaults.scaling) == (SEVEN, "range") and set(defaults.sources.values()) == {"default"}

    (run_dir / "result.json").write_text(json.dumps({**result, "classes": list(SEVEN) + ["contempt"]}))
    with pytest.raises(ValueError, match=r"8 class names \(result.json\) for a 7-class model"):
        training_inputs(predictor.model, run_dir / "model.pt")


def test_find_checkpoint_takes_a_run_model_or_stage_folder_and_refuses_an_ambiguous_one(tmp_path):
    stage = tmp_path / "02_lanmsff"
    for run in ("lanmsff/seed10", "lanmsff/seed2", "lanmsff/seed0"):
        (stage / run).mkdir(parents=True)
        (stage / run / "model.pt").write_bytes(b"")
    seed0 = stage / "lanmsff" / "seed0" / "model.pt"
    assert find_checkpoint(stage) == find_checkpoint(stage / "lanmsff") == find_checkpoint(seed0) == seed0
    assert find_checkpoint(stage / "lanmsff" / "seed2") == stage / "lanmsff" / "seed2" / "model.pt"
    (stage / "hafem" / "seed0").mkdir(parents=True)
    (stage / "hafem" / "seed0" / "model.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"holds 2 models \(hafem, lanmsff\)"):
        find_checkpoint(stage)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty holds no model.pt"):
        find_checkpoint(tmp_path / "empty")


def test_crops_become_what_the_network_was_trained_on(predictor):
    assert predictor.pipeline.size == 48                                    # aligned at the training images' side
    crop = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    np.testing.assert_array_equal(predictor.to_input(crop), cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY))
    colour = Predictor(predictor.model, fernb.realtime.predict.TrainingInputs(
        tuple(CLASSES), (32, 32, 3), "range", "", {}), predictor.pipeline)
    assert colour.to_input(crop).shape == (32, 32, 3)


# ------------------------------------------------------------------- bad input
def test_bad_inputs_are_refused_naming_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=r"corrupt\.mp4: OpenCV cannot open it"):
        open_sources([corrupt])
    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (64, 48)).release()   # a header, no frame
    with pytest.raises(ValueError, match=r"empty\.avi: the video yields no frames"):
        open_sources([empty])
    with pytest.raises(FileNotFoundError, match=r"nowhere\.png does not exist"):
        open_sources([tmp_path / "nowhere.png"])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt: unsupported file type \.txt"):
        open_sources([corrupt.with_name("notes.txt")])
    (tmp_path / "no_images").mkdir()
    with pytest.raises(ValueError, match="no_images: no images in this folder"):
        open_sources([tmp_path / "no_images"])


def test_cli_predicts_end_to_end_and_fails_cleanly_on_bad_input(checkpoint, video, tmp_path, capsys):
    common = ["--face-backend", "opencv", "--device", "cpu", "--quiet"]
    out = tmp_path / "out"
    code = main(["predict", str(checkpoint.parent), str(video), "--csv", str(out / "rows.csv"),
                 "--json", str(out / "rows.jsonl"), "--annotate", str(out / "annotated.mp4"), "--batch-size", "3", *common])
    printed = capsys.readouterr().out
    assert code == 0
    assert re.search(r"7 frames, \d+ faces in [\d.]+ s: [\d.]+ frames/s", printed)
    assert all(stage in printed for stage in ("decode", "detect", "align+CLAHE", "model", "write"))
    assert "classes " + ", ".join(CLASSES) + " (checkpoint)" in printed
    assert len(pd.read_csv(out / "rows.csv")) == len((out / "rows.jsonl").read_text().splitlines()) >= 7
    assert len(read_video(out / "annotated.mp4")) == 7

    code = main(["predict", str(checkpoint), str(video), "--json", str(out / "two.jsonl"), "--max-frames", "2", *common])
    assert code == 0
    assert {json.loads(line)["frame"] for line in (out / "two.jsonl").read_text().splitlines()} == {0, 1}
    capsys.readouterr()

    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(1).bytes(2048))
    for args, message in [
        ([str(checkpoint), str(tmp_path / "missing.mp4")], "missing.mp4 does not exist"),
        ([str(checkpoint), str(corrupt)], "corrupt.mp4: OpenCV cannot open it"),
        ([str(checkpoint), str(video), "--model", "hafem"], "holds a 'lanmsff' model, not 'hafem'"),
        ([str(checkpoint), str(video), "--num-classes", "8"], "trained for 7 classes, not 8"),
        ([str(tmp_path / "nothing.pt"), str(video)], "nothing.pt does not exist"),
        ([str(checkpoint), str(video), "--annotate", str(tmp_path / "out.gif")], "expected a file ending .mp4"),
        ([str(checkpoint)], "no SOURCE"),
    ]:
        assert main(["predict", *args, *common]) == 1, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (args, err)


# ------------------------------------------------------------------- what is scored
def test_score_is_the_networks_softmax_under_the_checkpoints_scaling(predictor):
    """The probabilities are the network's own softmax on the crop, scaled as training scaled
    it: an independent forward pass, once per scaling (a narrow-range crop tells them apart)."""
    import dataclasses

    from scipy.special import softmax

    rng = np.random.default_rng(0)
    crops = [rng.integers(100, 140, (48, 48), dtype=np.uint8), rng.integers(0, 256, (48, 48), dtype=np.uint8)]
    x = torch.from_numpy(np.stack(crops)).float()[:, None]
    model = predictor.model.eval()

    def reference(inputs):
        with torch.inference_mode():
            out = model(inputs)
        return softmax((out[0] if isinstance(out, tuple) else out).numpy(), axis=1)

    by_range = reference(x / 255.0)
    low, high = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
    by_image = reference((x - low) / (high - low))
    assert predictor.inputs.scaling == "range"
    np.testing.assert_allclose(predictor.score(crops), by_range, atol=1e-6)
    per_image = Predictor(predictor.model, dataclasses.replace(predictor.inputs, scaling="image"), predictor.pipeline)
    np.testing.assert_allclose(per_image.score(crops), by_image, atol=1e-6)
    assert np.abs(by_range - by_image).max() > 1e-5          # the two scalings are distinguishable here


def test_rejected_faces_get_no_probabilities_and_shift_none_onto_others(predictor):
    """Only ok faces are scored; the probabilities of a batch spanning frames with rejected
    faces go to the right faces (frame 1: rejected, ok; frame 2: ok, rejected, ok)."""
    from fernb.faces.backends import Face
    from fernb.faces.pipeline import FaceResult
    from fernb.realtime.annotate import RowWriter
    from fernb.realtime.media import Frame, MediaSource
    from fernb.realtime.predict import PredictionRun, _Pending

    crop = np.zeros((48, 48), np.uint8)
    ok, bad = FaceResult("ok", crop, alignment="box"), FaceResult("bad_fit", detail="implausible")
    source = MediaSource("image", Path("x.png"))
    frames = [(Frame(source, 0, None, np.zeros((9, 9, 3), np.uint8)), [bad, ok]),
              (Frame(source, 1, None, np.zeros((9, 9, 3), np.uint8)), [ok, bad, ok])]
    run = PredictionRun()
    pending = _Pending(predictor, RowWriter(["x"], None, None), None, run, keep_rows=True)
    for frame, results in frames:
        faces = [(Face(box=np.array([i, i, 5.0, 5.0])), r) for i, r in enumerate(results)]
        pending.add(frame, faces, [r.image for r in results if r.ok])
    probs = np.eye(len(CLASSES))[[2, 4, 6]]                 # one distinct answer per ok face, in order
    pending._write(probs)
    rows = pd.DataFrame(run.rows)
    assert rows["status"].tolist() == ["bad_fit", "ok", "ok", "bad_fit", "ok"]
    assert [r["prediction"] for r in run.rows] == [None, CLASSES[2], CLASSES[4], None, CLASSES[6]]
    assert rows.loc[rows["status"] != "ok", PROBS].isna().all(axis=None)
    assert (run.frames, run.faces, pending.crops) == (2, 5, [])


def test_faces_are_framed_as_the_training_images_were(tmp_path):
    """A checkpoint records how its training images were framed (FERData.framing): pre-cropped
    ones (FER2013, SynthFER) get the box x1.0 and no CLAHE; a face-pipeline set its enlargement
    and CLAHE; an older checkpoint without the record HAFEM's pipeline; flags override."""
    from fernb.data.core import FERData

    model = create_model("lanmsff", num_classes=7, in_chans=1, img_size=48)
    tiny = np.zeros((2, 48, 48), np.uint8)
    cropped = FERData(name="fer2013", images=tiny, labels=np.array([0, 1]), split=np.array(["train", "test"]),
                      classes=tuple(CLASSES), source_ids=["a", "b"])
    piped = FERData(name="rafdb", images=tiny, labels=np.array([0, 1]), split=np.array(["train", "test"]),
                    classes=tuple(CLASSES), source_ids=["a", "b"], meta={"faces": {"enlarge": 1.25, "clahe": True, "clip_limit": 3.0,
                                                            "tile_grid": 4, "fit": "five"}})
    assert cropped.framing() == {"source": "pre-cropped", "enlarge": 1.0, "clahe": False}
    for data, enlarge, clahe in ((cropped, 1.0, False), (piped, 1.25, True)):
        path = save_model(model, tmp_path / data.name / "model.pt", classes=CLASSES, image_shape=[48, 48],
                          scaling="range", framing=data.framing())
        p = Predictor.from_checkpoint(path, device="cpu", face_backend="opencv")
        assert (p.pipeline.enlarge, p.pipeline.clahe) == (enlarge, clahe)
        assert p.inputs.sources["framing"] == "checkpoint" and data.framing()["source"] in p.describe()
    p = Predictor.from_checkpoint(tmp_path / "rafdb" / "model.pt", device="cpu", face_backend="opencv")
    assert (p.pipeline.clip_limit, p.pipeline.tile_grid, p.pipeline.fit) == (3.0, 4, "five")
    old = save_model(model, tmp_path / "old" / "model.pt", classes=CLASSES, image_shape=[48, 48], scaling="range")
    p = Predictor.from_checkpoint(old, device="cpu", face_backend="opencv")
    assert (p.pipeline.enlarge, p.pipeline.clahe) == (1.3, True) and p.inputs.sources["framing"] == "default"
    p = Predictor.from_checkpoint(tmp_path / "fer2013" / "model.pt", device="cpu", face_backend="opencv",
                                  enlarge=1.3, clahe=True)
    assert (p.pipeline.enlarge, p.pipeline.clahe) == (1.3, True) and "overridden: enlarge=1.3, clahe=True" in p.describe()
