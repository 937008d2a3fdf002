"""Print (never assert) the face pipeline's throughput, in faces per second, per backend.

* ``opencv``  — Haar face + eye detection, alignment, CLAHE (the offline fallback), CPU
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

import cv2

from fernb.faces import FacePipeline, fan_status
from fernb.data.synthphotos import synthetic_photos
from fernb.faces.pose import head_pose
from fernb.machine import environment


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
    args = parser.parse_args()
    photos = synthetic_photos(args.n, seed=0)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, OpenCV {cv2.__version__} "
          f"({cv2.getNumThreads()} threads); {args.n} photos of 320x400 -> 224x224 RGB + CLAHE")
    env = environment()
    print(f"torch {env['torch']}, commit {env['commit']}, lock {env['lock_sha256']}")
    rows = [("given landmarks (no detection)", FacePipeline(backend="opencv"), True),
            ("opencv Haar (CPU)", FacePipeline(backend="opencv"), False)]
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


if __name__ == "__main__":
    main()
