"""The default pipeline's time budget: each stage's wall time in one forced `dvc repro -f`.

The budget (docs/training.md, "Time budget"): on the 2-core CPU machine the project is built on,
`dvc repro -f` of the whole default pipeline must fit 25 minutes once all eight notebooks
exist, and stages 00, 01, 02 and 07 together 10 minutes.

A fresh clone has no trained runs, so by default this removes `runs/01_hafem`,
`runs/02_lanmsff` and `runs/03_ablations` first (they are `persist: true` outputs, which
`dvc repro -f` would otherwise read back instead of training): the times include training, as a new user's
first `make repro` does. `--keep-runs` times the re-render of finished runs instead.

Stage times come from DVC's own output: each "Running stage" line starts a stage, the next
one (or the end of the command) ends it, so the times include papermill's kernel start,
the HTML export and DVC's hashing of the outputs.

Run from the repository root, on a committed tree (DVC records what it ran in dvc.lock):
`.venv/bin/python benchmarks/bench_pipeline.py [--keep-runs] [--json out.json]`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BUDGET_NOW_S = 600          # 00 + 01 + 02 + 07
BUDGET_ALL_S = 25 * 60      # all eight notebooks
BUDGET_STAGES = ("00_data_prep", "01_hafem", "02_lanmsff", "07_fps")
STAGE_LINE = re.compile(r"Running stage '([^']+)'")


def timed_repro(root: Path, dvc: str) -> tuple[list[tuple[str, float]], float, int]:
    """``dvc repro -f`` in ``root``: (stage, seconds) in run order, the total, the exit code."""
    started = time.perf_counter()
    marks: list[tuple[str, float]] = []
    # the stages call `fernb`: the virtualenv's bin first, as the Makefile puts it
    path = f"{Path(dvc).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.Popen([dvc, "repro", "-f"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, env={**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": path,
                                                       "MPLBACKEND": "Agg"})
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-30:]
        match = STAGE_LINE.search(line)
        if match:
            marks.append((match.group(1), time.perf_counter()))
            print(f"[{marks[-1][1] - started:7.1f} s] {line.rstrip()}", flush=True)
    code = proc.wait()
    if code:
        print(f"dvc repro -f failed (exit {code}); its last lines:\n" + "\n".join(tail), flush=True)
    ended = time.perf_counter()
    times = [(name, (marks[i + 1][1] if i + 1 < len(marks) else ended) - t) for i, (name, t) in enumerate(marks)]
    return times, ended - started, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep-runs", action="store_true", help="keep finished training runs (times a re-render)")
    parser.add_argument("--json", help="also write the times to this JSON file")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    dvc = str(Path(sys.executable).parent / "dvc")
    sys.path.insert(0, str(root))
    from fernb.machine import environment

    env = environment("cpu")
    print(f"cpu {env['cpu']} x{env['cpu_count']}, threads {env['threads']}, torch {env['torch']}, "
          f"commit {env.get('commit')}, lock {env.get('lock_sha256')}")
    if not args.keep_runs:
        for stage in ("01_hafem", "02_lanmsff", "03_ablations"):
            shutil.rmtree(root / "runs" / stage, ignore_errors=True)
        print("removed runs/01_hafem, runs/02_lanmsff and runs/03_ablations: the times include training and the "
              "search, as on a fresh clone")
    times, total, code = timed_repro(root, dvc)
    print(f"\n{'stage':28s} {'seconds':>8s}")
    for name, seconds in times:
        print(f"{name:28s} {seconds:8.1f}")
    in_budget = sum(s for n, s in times if n.split("@")[0] in BUDGET_STAGES)
    print(f"{'total (dvc repro -f)':28s} {total:8.1f}")
    print(f"{'00+01+02+07':28s} {in_budget:8.1f}   budget {BUDGET_NOW_S} s: "
          f"{'within' if in_budget <= BUDGET_NOW_S else 'OVER'}")
    print(f"{'all stages':28s} {total:8.1f}   budget for all eight notebooks {BUDGET_ALL_S} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "keep_runs": args.keep_runs, "exit_code": code,
                                               "stages": dict(times), "total_s": total,
                                               "budget_stages_s": in_budget}, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
