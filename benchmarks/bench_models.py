"""Print (never assert) the model-only speed of every fernb model, with notebook 07's harness.

A command-line view of :func:`fernb.realtime.bench.run_benchmark`: every model of
:data:`fernb.realtime.bench.MODELS` (LANMSFF, HAFEM in the paper configuration and the CPU default,
the Table 3 baselines) at batch 1 and a batch sweep, eager unless ``--variants`` says
otherwise, on this machine, with the environment. Notebook 07 runs the full sweep and
keeps its results; this script is for a quick look (``make bench``).
Run: ``python benchmarks/bench_models.py [--models lanmsff,hafem_paper] [--variants eager,onnxruntime]
[--batch-sizes 1,16] [--device cuda] [--json out.json]``.
"""
from __future__ import annotations

import argparse

import pandas as pd

from fernb.realtime import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(bench.MODELS), help="comma-separated keys of fernb.realtime.bench.MODELS")
    parser.add_argument("--variants", default="eager", help="comma-separated variants, e.g. eager,channels_last,onnxruntime")
    parser.add_argument("--batch-sizes", default="1,16", help="batch sizes of the sweep (every variant)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-seconds", type=float, default=2.0, help="timed seconds per point at most")
    parser.add_argument("--json", help="also save the benchmark (points, models, environment) to this JSON file")
    args = parser.parse_args()
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = sorted(set(keys) - set(bench.MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(bench.MODELS)}")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    result = bench.run_benchmark(keys, variants=variants, batch_sizes=[int(b) for b in args.batch_sizes.split(",")],
                                 sweep_variants=variants, device=args.device, max_seconds=args.max_seconds)
    env = result.environment
    print(f"machine: {env.get('gpu') or env['cpu']} ({env['cpu_count']} CPUs, {env['threads']} torch threads), "
          f"torch {env['torch']}, timm {env['timm']}, commit {env['commit']}, lock {env.get('lock_sha256')}")
    pd.set_option("display.width", 200)
    print(result.models.set_index("model")[["trainable", "gflops"]].to_string(float_format="{:.2f}".format))
    cols = ["status", "median_ms", "p90_ms", "p99_ms", "images_per_s"]
    print(result.latency.set_index(["model", "variant", "batch"])[cols].to_string(float_format="{:.2f}".format))
    if args.json:
        print(f"saved {result.save(args.json)}")


if __name__ == "__main__":
    main()
