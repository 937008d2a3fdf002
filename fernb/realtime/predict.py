"""Emotions in photos, folders, videos and webcams, from any checkpoint training wrote.

>>> predictor = Predictor.from_checkpoint("runs/02_lanmsff")   # model.pt, a run or a stage folder
>>> predictor.describe()                                       # where its classes and input came from
>>> run = predict_sources(predictor, ["clip.mp4"], csv="clip.csv", annotate="clip_annotated.mp4")
>>> run.rows[0]["prediction"], run.fps, run.report()

Every image or frame (read by :mod:`fernb.realtime.media`) goes through
:class:`~fernb.faces.pipeline.FacePipeline`: every face, largest first, aligned and CLAHE'd
at the training images' side, then made what the network was trained on (grayscale when
the training images were). Faces of several frames are scored together by
:func:`fernb.models.inputs.predict_proba`. Each face is one row
(:data:`fernb.realtime.annotate.COLUMNS` plus one ``prob_<class>`` column per class); an
image or frame without a face is one row with status ``no_face``, an image that does not
decode one row with status ``unreadable``, a face whose landmark fit is implausible one row
with status ``bad_fit``: nothing is dropped silently.

What the network was trained on (class names, one training image's shape, pixel scaling)
is read from the checkpoint's extras, else from ``result.json`` beside it (checkpoints
written before the extras existed), else defaults (canonical names by class count,
``"range"`` scaling, the model's own input size); :attr:`TrainingInputs.sources` says which.

Rows are written to CSV and/or JSON Lines and flushed after every batch, and an annotated
video is released in a ``finally`` (:mod:`fernb.realtime.annotate`): an interrupted run
(Ctrl-C, or a crash mid-video) keeps every row and frame it had finished.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from fernb.faces.backends import Face
from fernb.faces.pipeline import FacePipeline, FaceResult
from fernb.labels import class_names
from fernb.machine import select_device
from fernb.models import load_model
from fernb.models.inputs import predict_proba
from fernb.progress import progress_bar
from fernb.realtime.annotate import COLUMNS, Annotator, RowWriter, frame_rows
from fernb.realtime.media import Frame, open_sources, read_frames
from fernb.runs import RESULT, find_checkpoint

__all__ = ["TrainingInputs", "Predictor", "PredictionRun", "training_inputs", "predict_sources", "STAGES"]

# A checkpoint that does not say how its training images were framed gets HAFEM's pipeline (§3).
DEFAULT_FRAMING = {"source": "unknown (HAFEM's face pipeline assumed)", "enlarge": 1.3, "clahe": True}

STAGES = {"decode": "decode", "detect": "detect", "align": "align+CLAHE", "model": "model", "write": "write"}

# ---------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class TrainingInputs:
    """What a network was trained on, so that inference feeds it the same.

    Attributes:
        classes: class names in the network's output order.
        image_shape: one training image's shape, ``(H, W)`` grayscale or ``(H, W, 3)`` colour.
        scaling: ``"range"`` (x/255) or ``"image"`` (per-image min-max), as in :class:`fernb.train.TrainConfig`.
        dataset: the training dataset's name ("" when unknown).
        framing: how the training images were framed (:meth:`fernb.data.FERData.framing`):
            ``source`` ("pre-cropped" or "face pipeline"), ``enlarge`` and ``clahe`` (and the
            pipeline's CLAHE settings); the default, for a checkpoint that does not record it,
            is HAFEM's pipeline (box ×1.3, CLAHE).
        sources: where each of the above was read: ``"checkpoint"``, ``"result.json"`` or ``"default"``.
    """

    classes: tuple[str, ...]
    image_shape: tuple[int, ...]
    scaling: str
    dataset: str
    sources: dict[str, str]
    framing: dict = field(default_factory=lambda: dict(DEFAULT_FRAMING))

    @property
    def grayscale(self) -> bool:
        return len(self.image_shape) == 2 or self.image_shape[2] == 1

    def describe(self) -> str:
        h, w = self.image_shape[:2]
        src = self.sources
        f = self.framing
        return (f"classes {', '.join(self.classes)} ({src['classes']}); "
                f"input {h}x{w} {'grayscale' if self.grayscale else 'colour'} ({src['image_shape']}); "
                f"scaling {self.scaling} ({src['scaling']}); trained on {self.dataset or 'unknown data'} ({src['dataset']}); "
                f"framing: {f.get('source')}, box x{f.get('enlarge')}, {'CLAHE' if f.get('clahe') else 'no CLAHE'} "
                f"({src.get('framing', 'default')})")


def training_inputs(model: nn.Module, checkpoint: str | os.PathLike) -> TrainingInputs:
    """:class:`TrainingInputs` of a model loaded from ``checkpoint``: its extras, else
    ``result.json`` beside it, else defaults (field by field)."""
    checkpoint = Path(checkpoint)
    extra = getattr(model, "fernb_extra", None) or {}
    result: dict = {}
    result_path = checkpoint.parent / RESULT
    if result_path.is_file():
        try:
            result = json.loads(result_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            warnings.warn(f"{result_path} is unreadable ({err}); the checkpoint's own metadata or defaults are used",
                          RuntimeWarning, stacklevel=2)
    k = int(model.num_classes)
    side = tuple(int(v) for v in model.input_size)
    candidates = {
        "classes": (result.get("classes"), class_names(k) if k in (7, 8) else tuple(f"class{i}" for i in range(k))),
        "image_shape": (None, side if model.in_chans == 1 else (*side, 3)),
        "scaling": ((result.get("config") or {}).get("scaling"), "range"),
        "dataset": (result.get("dataset"), ""),
        "framing": (result.get("framing"), dict(DEFAULT_FRAMING)),
    }
    values, sources = {}, {}
    for key, (from_result, default) in candidates.items():
        sources[key], values[key] = next((where, value) for where, value in (
            ("checkpoint", extra.get(key)), (RESULT, from_result), ("default", default)) if value is not None)
    inputs = TrainingInputs(classes=tuple(values["classes"]), image_shape=tuple(int(v) for v in values["image_shape"]),
                            scaling=str(values["scaling"]), dataset=str(values["dataset"]), sources=sources,
                            framing=dict(values["framing"]))
    if len(inputs.classes) != k:
        raise ValueError(f"{checkpoint}: {len(inputs.classes)} class names ({sources['classes']}) "
                         f"for a {k}-class model")
    if inputs.scaling not in ("range", "image"):
        raise ValueError(f"{checkpoint}: unknown scaling {inputs.scaling!r} ({sources['scaling']}); "
                         "expected 'range' or 'image'")
    return inputs


class Predictor:
    """A trained network with the face pipeline that feeds it as training did.

    Args:
        model: a network from :func:`fernb.models.load_model`, on ``device``.
        inputs: what it was trained on (:func:`training_inputs`).
        pipeline: detection, alignment and CLAHE; its ``size`` is the crop side (the
            training images' side when built by :meth:`from_checkpoint`).
        device: where the network runs.
        batch_size: most faces scored together (across frames).
        amp: autocast for the network, as :func:`fernb.machine.amp_plan` reads it ("auto":
            bf16 or fp16 on a GPU, off on CPU).
        checkpoint: the file it came from, for messages.
    """

    def __init__(self, model: nn.Module, inputs: TrainingInputs, pipeline: FacePipeline, *,
                 device: torch.device | None = None,
                 batch_size: int = 64, amp: str = "auto", checkpoint: str | os.PathLike = "") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model, self.inputs, self.pipeline = model, inputs, pipeline
        self.device = device or next(model.parameters()).device
        self.batch_size, self.amp, self.checkpoint = int(batch_size), amp, Path(checkpoint)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, *, device: str = "auto", model: str | None = None,
                        num_classes: int | None = None, face_backend: str = "auto", enlarge: float | None = None,
                        clahe: bool | None = None, batch_size: int = 64, amp: str = "auto") -> Predictor:
        """Load ``path`` (anything :func:`find_checkpoint` takes) on ``device``; ``model`` and
        ``num_classes``, when given, must match it (:func:`fernb.models.load_model`).

        Faces are aligned at the training images' side and framed as the training images were
        (:attr:`TrainingInputs.framing`: a model trained on FER2013's pre-cropped faces gets the
        box ×1.0 and no CLAHE; one trained through the face pipeline gets its enlargement and
        CLAHE); ``enlarge`` and ``clahe`` override that. ``face_backend`` is created here, so a
        missing FAN is reported before any input is read.
        """
        checkpoint = find_checkpoint(path)
        try:
            dev = select_device(device)
        except RuntimeError as err:  # no CUDA, or a device name torch does not know
            raise ValueError(str(err)) from err
        net = load_model(checkpoint, map_location=dev, name=model, num_classes=num_classes)
        inputs = training_inputs(net, checkpoint)
        framing = inputs.framing
        overridden = {k: v for k, v in (("enlarge", enlarge), ("clahe", clahe)) if v is not None}
        if overridden:
            framing = {**framing, **overridden}
            inputs = dataclasses.replace(inputs, framing=framing,
                                         sources={**inputs.sources, "framing": f"{inputs.sources['framing']}, overridden: "
                                                  + ", ".join(f"{k}={v}" for k, v in overridden.items())})
        pipeline = FacePipeline(backend=face_backend, size=max(inputs.image_shape[:2]),
                                enlarge=float(framing.get("enlarge", 1.3)), clahe=bool(framing.get("clahe", True)),
                                clip_limit=float(framing.get("clip_limit", 2.0)), tile_grid=int(framing.get("tile_grid", 8)),
                                fit=framing.get("fit", "eyes"), device=str(dev))
        try:
            pipeline.detector  # noqa: B018 (the property builds the detector: fail here, not at the first frame)
        except RuntimeError as err:  # face_backend="fan" without face-alignment or its weights
            raise ValueError(str(err)) from err
        return cls(net, inputs, pipeline, device=dev, batch_size=batch_size, amp=amp, checkpoint=checkpoint)

    @property
    def columns(self) -> tuple[str, ...]:
        """The output rows' columns: :data:`fernb.realtime.annotate.COLUMNS`, then ``prob_<class>`` per class."""
        return COLUMNS + tuple(f"prob_{c}" for c in self.inputs.classes)

    def describe(self) -> str:
        """One line: the checkpoint, model, device, face backend and where the inputs came from."""
        config = getattr(self.model, "fernb_config", {})
        backend = self.pipeline.detector.config()["backend"]
        return (f"{self.checkpoint}: {config.get('name', type(self.model).__name__)} on {self.device}, "
                f"faces by {backend}; {self.inputs.describe()}")

    def to_input(self, crop: np.ndarray) -> np.ndarray:
        """An aligned uint8 RGB crop as a training image: the training size, grayscale when those were."""
        h, w = self.inputs.image_shape[:2]
        if crop.shape[:2] != (h, w):
            crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if self.inputs.grayscale else crop

    def align(self, image: np.ndarray, faces: list[Face] | None = None
              ) -> tuple[list[tuple[Face, FaceResult]], list[np.ndarray]]:
        """Every face in an RGB ``image`` (``faces`` when already detected), largest first
        (:meth:`FacePipeline.process_all`), and the training-format crops (:meth:`to_input`)
        of those aligned (status ``ok``), in the same order."""
        aligned = self.pipeline.process_all(image, faces)
        return aligned, [self.to_input(res.image) for _, res in aligned if res.ok]

    def score(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(N, K)`` of training-format ``images`` (:meth:`to_input`)."""
        probs, _ = predict_proba(self.model, np.stack(images), batch_size=self.batch_size, device=self.device,
                           scaling=self.inputs.scaling, amp=self.amp)
        return probs


# ------------------------------------------------------------------------------ the run
@dataclass
class PredictionRun:
    """What :func:`predict_sources` did.

    Attributes:
        rows: every row, in order (empty when not kept).
        frames: images and video frames done (their rows written).
        faces: faces found in them (scored or not).
        seconds: wall-clock time, end to end.
        stages: seconds per stage (:data:`STAGES`).
        interrupted: stopped by KeyboardInterrupt; what was done is written.
        outputs: the files written (CSV, JSON Lines, annotated images and videos).
    """

    rows: list[dict] = field(default_factory=list)
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    interrupted: bool = False
    outputs: list[Path] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second, end to end (decoding to writing)."""
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    def report(self) -> str:
        """Frames, faces, time, FPS and each stage's share of the wall time."""
        wall = self.seconds or 1.0
        shares = ", ".join(f"{STAGES[k]} {v / wall:.0%}" for k, v in self.stages.items())
        other = max(0.0, 1 - sum(self.stages.values()) / wall)
        return (f"{self.frames} frames, {self.faces} faces in {self.seconds:.2f} s: {self.fps:.1f} frames/s; "
                f"time: {shares}, other {other:.0%}")


@contextlib.contextmanager
def _timing(stages: dict[str, float], key: str) -> Iterator[None]:
    """Add the seconds the block takes to ``stages[key]``, also when it is interrupted."""
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[key] += time.perf_counter() - start


def _timed(items: Iterator[Frame], stages: dict[str, float], key: str) -> Iterator[Frame]:
    """``items``, adding the seconds spent producing each to ``stages[key]``."""
    while True:
        with _timing(stages, key):
            item = next(items, None)
        if item is None:
            return
        yield item


class _Pending:
    """Frames detected and aligned but not yet scored; :meth:`flush` scores their faces in
    one call, then writes each frame's rows and annotation, frame by frame."""

    def __init__(self, predictor: Predictor, writer: RowWriter, annotator: Annotator | None, run: PredictionRun,
                 keep_rows: bool):
        self.predictor, self.writer, self.annotator, self.run = predictor, writer, annotator, run
        self.keep_rows = keep_rows
        self.frames: list[tuple[Frame, list[tuple[Face, FaceResult]]]] = []
        self.crops: list[np.ndarray] = []

    @property
    def full(self) -> bool:
        return max(len(self.crops), len(self.frames)) >= self.predictor.batch_size

    def add(self, frame: Frame, faces: list[tuple[Face, FaceResult]], crops: list[np.ndarray]) -> None:
        self.frames.append((frame, faces))
        self.crops += crops

    def flush(self) -> None:
        if not self.frames:
            return
        stages, classes = self.run.stages, self.predictor.inputs.classes
        with _timing(stages, "model"):
            probs = self.predictor.score(self.crops) if self.crops else np.zeros((0, len(classes)))
        with _timing(stages, "write"):
            self._write(probs)

    def _write(self, probs: np.ndarray) -> None:
        """Each pending frame's rows and annotation; ``probs`` are those of all their ok faces, in order."""
        classes, offset = self.predictor.inputs.classes, 0
        while self.frames:   # taken off one by one: a flush after an interruption never writes a frame twice
            frame, faces = self.frames.pop(0)
            n = sum(res.ok for _, res in faces)
            del self.crops[:n]
            rows = frame_rows(frame, faces, probs[offset:offset + n], classes)
            offset += n
            self.writer.write(rows)
            if self.annotator is not None:
                self.annotator.write(frame, rows)
            if self.keep_rows:
                self.run.rows += rows
            self.run.frames += 1
            self.run.faces += len(faces)
        self.writer.flush()


def predict_sources(predictor: Predictor, inputs: Sequence[str | os.PathLike | int], *,
                    csv: str | os.PathLike | None = None, json_lines: str | os.PathLike | None = None,
                    annotate: str | os.PathLike | None = None, max_frames: int | None = None,
                    progress: bool = True, keep_rows: bool = True) -> PredictionRun:
    """Detect every face in ``inputs`` (see :func:`fernb.realtime.media.open_sources`), score it, write the rows.

    Args:
        predictor: the network and its face pipeline.
        inputs: image files, folders, video files, webcam indices.
        csv: CSV file of the rows (landmarks as a JSON string).
        json_lines: JSON Lines file of the rows (one object per line).
        annotate: annotated output: an image file for one image input, a video
            (:data:`fernb.faces.video.VIDEO_CODECS`; the source's fps and size) for one video or webcam, else a
            folder of them.
        max_frames: most frames read from each video or webcam.
        progress: a progress bar over frames (:func:`fernb.progress.progress_bar`).
        keep_rows: keep every row in the returned :class:`PredictionRun` (off for long
            webcam runs: the files hold them).

    Faces of several frames are scored together, up to ``predictor.batch_size``; a webcam's
    frames are scored one by one, as they come. Rows are flushed after every batch. On
    KeyboardInterrupt the frames already read are scored and written, the files closed, and
    the run returned with ``interrupted`` set; any other error closes them and propagates.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    sources = open_sources(inputs)
    one_file = len(inputs) == 1 and len(sources) == 1 and (sources[0].kind != "image" or Path(inputs[0]).is_file())
    single = sources[0] if one_file else None
    annotator = Annotator(annotate, single) if annotate else None
    run = PredictionRun()
    stages = run.stages
    counts = [s.frames if max_frames is None or s.frames is None else min(s.frames, max_frames) for s in sources]
    start = time.perf_counter()
    writer = RowWriter(predictor.columns, csv, json_lines)
    bar = progress_bar(total=None if None in counts else sum(counts), unit="frame", desc="fernb predict",
                       disable=not progress)
    pending = _Pending(predictor, writer, annotator, run, keep_rows)
    try:
        for source in sources:
            with contextlib.closing(read_frames(source, max_frames)) as frames:
                for frame in _timed(frames, stages, "decode"):
                    faces, crops = [], []
                    if frame.image is None:
                        warnings.warn(f"{source.name}: not a readable image; its row has status 'unreadable'",
                                      RuntimeWarning, stacklevel=2)
                    else:
                        with _timing(stages, "detect"):
                            detected = predictor.pipeline.detect(frame.image)
                        with _timing(stages, "align"):
                            faces, crops = predictor.align(frame.image, detected)
                    pending.add(frame, faces, crops)
                    bar.update(1)
                    if pending.full or source.kind == "webcam":
                        pending.flush()
            pending.flush()
            if annotator is not None:
                annotator.close()
    except KeyboardInterrupt:
        run.interrupted = True
        pending.flush()
    except BaseException:
        with contextlib.suppress(Exception):   # keep the frames already read, unless scoring them is what failed
            pending.flush()
        raise
    finally:
        if annotator is not None:
            annotator.close()
        writer.close()
        bar.close()
        run.seconds = time.perf_counter() - start
        run.outputs = writer.paths + (annotator.written if annotator is not None else [])
    return run
