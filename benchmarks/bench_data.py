"""Print (never assert) the data-side timings of the foundation.

* the whole default pipeline (`dvc repro -f` on SynthFER) on this machine — target ≤ 3 min
* FER2013 from the Kaggle zip into the prepared store — target ≤ 60 s
* loading the prepared FER2013 store — target ≤ 2 s

Run: `make bench` (FER2013 parts need $FERNB_DATA or ../shared/data; skipped otherwise).
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def line(name: str, seconds: float | None, target: float | None = None, note: str = "") -> None:
    if seconds is None:
        print(f"{name:<48} skipped  {note}")
        return
    verdict = "" if target is None else f"  (target ≤ {target:g} s: {'met' if seconds <= target else 'MISSED'})"
    print(f"{name:<48} {seconds:8.2f} s{verdict} {note}")


def bench_repro() -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    result = subprocess.run(["dvc", "repro", "-f"], cwd=REPO, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if result.returncode:
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise SystemExit("dvc repro failed")
    line("dvc repro -f (default pipeline, SynthFER)", took, 180)


def bench_fer2013() -> None:
    from fernb.data import load, load_store, write_store

    data_dir = os.environ.get("FERNB_DATA") or str(REPO.parent / "shared" / "data")
    archive = Path(data_dir) / "fer2013_msambare.zip"
    if not archive.is_file():
        line("FER2013 zip -> prepared store", None, note=f"({archive} not found)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        data = load("fer2013", archive)
        loaded = time.perf_counter()
        write_store(data, Path(tmp) / "fer2013")
        stored = time.perf_counter()
        line("FER2013 zip -> FERData (decode 35,887 JPEGs)", loaded - start)
        line("FER2013 zip -> prepared store (total)", stored - start, 60)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            back = load_store(Path(tmp) / "fer2013")
            times.append(time.perf_counter() - start)
        line("load prepared FER2013 store (best of 3)", min(times), 2, f"({len(back):,} images)")


if __name__ == "__main__":
    print(f"fernb data benchmarks — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    from fernb.machine import environment

    env = environment()
    print(f"torch {env['torch']}, commit {env['commit']}, lock {env['lock_sha256']}")
    bench_fer2013()
    if "--no-repro" not in sys.argv:
        bench_repro()
