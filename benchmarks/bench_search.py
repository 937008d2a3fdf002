"""Search throughput on the default settings: trials per minute and the share of trials pruned.

Runs notebook 03's search (`params.yaml`'s `search` section at the ablation scale, as the
notebook does) on the prepared dataset, in a fresh study under a temporary root, so nothing in
`runs/` is read or changed; then prints each trial's state and seconds, trials per minute (all
trials, and complete ones), the share pruned and the seconds a pruned trial saved against the
mean complete one. Needs `data/prepared/<dataset>` (`dvc repro 00_data_prep@synthfer`).

Run from the repository root: `.venv/bin/python benchmarks/bench_search.py [--trials N] [--json out.json]`.
Two workers on one embedded study: `--workers 2` starts a second process on the same journal file.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, help="trials in the study (default: params.yaml's search.trials)")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the study (default 1)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--root", help=argparse.SUPPRESS)      # a worker's temporary root
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from fernb.data import load_prepared
    from fernb.data.protocols import FOLD_DATASETS, apply_protocol
    from fernb.machine import environment
    from fernb.train import search as srch
    from fernb.workbook.stages import stage_parameters

    params = stage_parameters("03_ablations", root)
    search = {**params["search"], "study": "bench"}
    if args.trials:
        search["trials"] = args.trials
    dataset = params["dataset"]
    data = apply_protocol(load_prepared(dataset), params["test_fold"] if dataset in FOLD_DATASETS else None)
    sections = {name: params[name] for name in ("hafem", "lanmsff")}
    scale = params["ablations"].get(search["recipe"]) or {}
    train = {**params["train"], "progress": False}
    if args.root:                                              # a second worker: join and leave
        srch.run_search(search, sections, train, data, default_scale=scale, root=args.root, progress=False)
        return 0
    env = environment("cpu")
    print(f"cpu {env['cpu']} x{env['cpu_count']}, torch {env['torch']}, optuna {optuna.__version__}, "
          f"commit {env.get('commit')}; study: {search['recipe']} on {dataset}, {search['trials']} trials, "
          f"scale {search['scale'] if search['scale'] is not None else scale}, {args.workers} worker(s)")
    with tempfile.TemporaryDirectory(prefix="fernb-bench-search-") as tmp:
        started = time.perf_counter()
        others = [subprocess.Popen([sys.executable, __file__, "--root", tmp] + (["--trials", str(args.trials)] if args.trials else []),
                                   env={**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // args.workers))})
                  for _ in range(args.workers - 1)]
        study = srch.run_search(search, sections, train, data, default_scale=scale, root=tmp, progress=True)
        for proc in others:
            proc.wait()
        wall = time.perf_counter() - started
        frame = srch.trials_frame(study)
    done, pruned = frame[frame["state"] == "COMPLETE"], frame[frame["state"] == "PRUNED"]
    print(frame[["number", "state", "value", "epochs_reported", "seconds"]].to_string(index=False))
    numbers = {"trials": len(frame), "complete": len(done), "pruned": len(pruned), "wall_s": wall,
               "trials_per_minute": 60 * len(frame) / wall, "complete_per_minute": 60 * len(done) / wall,
               "pruned_share": len(pruned) / max(len(frame), 1),
               "mean_complete_s": float(done["seconds"].mean()) if len(done) else None,
               "mean_pruned_s": float(pruned["seconds"].mean()) if len(pruned) else None,
               "best_value": study.best_value}
    print(f"\n{numbers['trials']} trials in {wall:.0f} s: {numbers['trials_per_minute']:.2f} trials/min "
          f"({numbers['complete_per_minute']:.2f} complete/min); pruned {numbers['pruned']} "
          f"({100 * numbers['pruned_share']:.0f} %)"
          + (f", each {numbers['mean_complete_s'] - numbers['mean_pruned_s']:.1f} s shorter than a complete trial"
             if numbers["mean_pruned_s"] is not None and numbers["mean_complete_s"] is not None else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, **numbers}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
