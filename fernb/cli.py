"""The ``fernb`` command: run notebook stages, build the report index, prepare datasets."""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fernb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks/STAGE.ipynb with its params.yaml keys and export HTML")
    run.add_argument("stage", help="stage name, e.g. 00_data_prep")
    run.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                     help="override one declared parameter (value parsed as YAML); repeatable")
    run.add_argument("--quiet", action="store_true", help="do not stream cell outputs")

    show = sub.add_parser("params", help="print the parameters a stage's notebook receives")
    show.add_argument("stage")

    sub.add_parser("index", help="write reports/index.html linking every notebook report")

    prep = sub.add_parser("prepare", help="load a dataset and write its prepared store (what notebook 00 does, without the report)")
    prep.add_argument("dataset", help="synthfer, fer2013, ferplus, rafdb, affectnet, kdef or ckplus")
    prep.add_argument("--data-root", help="archive/CSV/folder of a real dataset (default: search $FERNB_DATA)")
    prep.add_argument("-o", "--out", help="store folder (default data/prepared/DATASET)")
    prep.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="loader option, e.g. n_train=500")
    prep.add_argument("--face-backend", default="auto", choices=("auto", "fan", "opencv"),
                      help="photo datasets (rafdb, affectnet, kdef, ckplus): face detector (default auto: FAN, else OpenCV)")
    prep.add_argument("--face-size", type=int, default=224, help="photo datasets: aligned crop side in pixels (default 224)")

    card = sub.add_parser("card", help="print a model card: parameters, BN statistics, FLOPs, per component")
    card.add_argument("model", help="a model name (" + "lanmsff, hafem, resnet50, efficientnet_b4, vit_base_16, "
                      "swin_tiny, timm/<architecture>) or a checkpoint written by fernb")
    card.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                      help="model argument, e.g. num_layers=6 or backbone=resnet50 (value parsed as YAML)")
    card.add_argument("--input", metavar="C,H,W", help="one sample as the data gives it (default: the network's own input)")
    card.add_argument("--json", action="store_true", help="print the card as JSON")

    tr = sub.add_parser("train", help="train a stage's runs without its report (also under torchrun: "
                        "torchrun --nproc_per_node=N -m fernb.train STAGE)")
    tr.add_argument("stage", help="a training stage: 01_hafem or 02_lanmsff")
    tr.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                    help="override one of the stage's parameters (value parsed as YAML); repeatable")

    args = parser.parse_args(argv)
    from fernb import pipeline

    try:
        if args.command == "run":
            page = pipeline.run_stage(args.stage, overrides=pipeline.parse_overrides(args.param),
                                      log_output=not args.quiet)
            print(f"fernb: {args.stage} done -> {page}")
        elif args.command == "params":
            for name, value in pipeline.stage_parameters(args.stage).items():
                print(f"{name} = {value!r}")
        elif args.command == "index":
            print(f"fernb: index -> {pipeline.build_index()}")
        elif args.command == "prepare":
            from fernb.data import WILD, load, prepared_dir, write_store

            options = pipeline.parse_overrides(args.param)
            if args.dataset in WILD:
                from fernb.faces import FacePipeline
                from fernb.faces.dataset import default_cache_dir

                options["pipeline"] = FacePipeline(backend=args.face_backend, size=args.face_size, cache_dir=default_cache_dir())
            start = time.perf_counter()
            data = load(args.dataset, args.data_root, **options)
            loaded = time.perf_counter()
            out = write_store(data, args.out or prepared_dir(args.dataset))
            print(f"fernb: {data!r}")
            print(f"fernb: loaded in {loaded - start:.1f} s, stored in {time.perf_counter() - loaded:.1f} s -> {out}")
        elif args.command == "card":
            return _card(args)
        elif args.command == "train":
            from fernb.train import train_stage

            try:
                for result in train_stage(args.stage, pipeline.parse_overrides(args.param)):
                    print(f"fernb: {result.dir}: test accuracy {result.test.accuracy:.4f}, macro-F1 {result.test.f1:.4f}")
            except (ValueError, FileNotFoundError) as err:   # unknown stage, no prepared store: say so, no traceback
                print(f"fernb: error: {err}", file=sys.stderr)
                return 1
    except pipeline.StageError as err:
        print(f"fernb: error: {err}", file=sys.stderr)
        return 1
    return 0


def _card(args) -> int:
    import json
    from pathlib import Path

    from fernb import pipeline
    from fernb.models import load_model, model_card

    shape = tuple(int(v) for v in args.input.split(",")) if args.input else None
    knobs = pipeline.parse_overrides(args.param)
    if shape is not None:
        knobs.setdefault("in_chans", shape[0])  # the data's channels are the model's input channels
    try:
        if Path(args.model).is_file():
            if knobs:
                raise ValueError("a checkpoint carries its own configuration; drop -p")
            card = model_card(load_model(args.model), input_shape=shape, name=args.model)
        else:
            card = model_card(args.model, input_shape=shape, **knobs)
    except (ValueError, TypeError) as err:
        print(f"fernb: error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(card.as_dict(), indent=2) if args.json else card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
