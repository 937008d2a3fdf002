"""Print (never assert) the face pipeline's throughput, in faces per second, per backend.

* ``opencv``  — Haar face + eye detection, alignment, CLAHE (the last-resort fallback), CPU
* ``mtcnn``   — facenet-pytorch's MTCNN (the offline default without FAN), five points, CPU
* real photos — detection rate, faces per photo and ms per photo of every backend on the
                labelled real photographs of ``facial_expressions_dev.zip`` (in ``$FERNB_DATA`` or
                ``../shared/data``), skipped with a message when it is absent
* ``given``   — a dataset's own landmarks: alignment + CLAHE only (AffectNet, CK+, RAF-DB)
* ``fan``     — face-alignment S3FD + 2D-FAN on CPU, and on the GPU when there is one;
                skipped with the reason when its package or weights are missing
* head pose   — yaw/pitch/roll from 68 landmarks (multi-start solvePnP), per face

Inputs are synthetic 320×400 photos (:mod:`fernb.data.synthphotos`), output 224×224 RGB.
Run: ``make bench`` or ``python benchmarks/bench_faces.py [--n 60]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

from fernb.data.synthphotos import synthetic_photos
from fernb.faces import FacePipeline, fan_status
from fernb.faces.backends import available_backends, compare_backends
from fernb.faces.pose import head_pose
from fernb.machine import environment
from fernb.paths import project_root


def rate(pipe: FacePipeline, photos, given: bool = False) -> tuple[float, int]:
    pipe.process(photos[0].image)  # warm-up (model load, first CUDA call)
    start = time.perf_counter()
    ok = 0
    for p in photos:
        res = pipe.process(p.image, landmarks=p.landmarks) if given else pipe.process(p.image)
        ok += res.ok
    return len(photos) / (time.perf_counter() - start), ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="photos per backend")
    parser.add_argument("--real", type=int, default=None, help="real photos at most (default: all)")
    args = parser.parse_args()
    photos = synthetic_photos(args.n, seed=0)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, OpenCV {cv2.__version__} "
          f"({cv2.getNumThreads()} threads); {args.n} photos of 320x400 -> 224x224 RGB + CLAHE")
    env = environment()
    print(f"torch {env['torch']}, commit {env['commit']}, lock {env['lock_sha256']}")
    rows = [("given landmarks (no detection)", FacePipeline(backend="opencv"), True),
            ("opencv Haar (CPU)", FacePipeline(backend="opencv"), False),
            ("MTCNN, facenet-pytorch (CPU)", FacePipeline(backend="mtcnn", device="cpu"), False)]
    status = fan_status()
    if status["ready"]:
        import torch

        rows.append(("face-alignment FAN (CPU)", FacePipeline(backend="fan", device="cpu"), False))
        if torch.cuda.is_available():
            rows.append((f"face-alignment FAN ({torch.cuda.get_device_name(0)})", FacePipeline(backend="fan", device="cuda"), False))
    for name, pipe, given in rows:
        fps, ok = rate(pipe, photos, given)
        print(f"{name:<44} {fps:8.1f} faces/s   ({ok}/{len(photos)} faces found)")
    if not status["ready"]:
        print(f"{'face-alignment FAN':<44}  skipped   ({status['reason']})")
    start = time.perf_counter()
    for p in photos:
        head_pose(p.landmarks, p.image.shape)
    print(f"{'head pose from 68 landmarks (solvePnP)':<44} {len(photos) / (time.perf_counter() - start):8.1f} faces/s")
    real_photos(args.real)


REAL = "facial_expressions_dev.zip"


def real_photos(limit: int | None) -> None:
    """Every backend on the real photographs of facial_expressions_dev.zip (skipped when absent)."""
    folders = [Path(os.environ["FERNB_DATA"])] if os.environ.get("FERNB_DATA") else []
    folders.append(project_root().parent / "shared" / "data")
    archive = next((f / REAL for f in folders if (f / REAL).is_file()), None)
    if archive is None:
        print(f"real photos: skipped ({REAL} is in neither $FERNB_DATA nor ../shared/data)")
        return
    with zipfile.ZipFile(archive) as z:
        names = sorted(n for n in z.namelist() if "/images/" in n and not n.endswith("/"))[:limit]
        images = []
        for name in names:
            bgr = cv2.imdecode(np.frombuffer(z.read(name), np.uint8), cv2.IMREAD_COLOR)
            images.append(None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    backends = {f"{name} ({b.label}, CPU)": b for name, b in available_backends("cpu").items()}
    print(f"real photos: {len(images)} of {archive.name} (web photos, mostly ~350 px, one face each)")
    for row in compare_backends(images, backends):
        print(f"  {row['backend']:<42} found a face in {row['found']:4d}/{row['photos']} = {100 * row['found_rate']:5.1f} %"
              f"   {row['faces_per_photo']:.2f} faces/photo   {row['ms_per_photo']:6.1f} ms/photo")


if __name__ == "__main__":
    main()
