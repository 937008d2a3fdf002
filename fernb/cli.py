"""The ``fernb`` command: run notebook stages, build the report index, prepare datasets and SynthFER's domain
shifts, train, read emotions from images and videos (``predict``), export to ONNX, and export a real-data
run's results for committing (``results``)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# What wrong input raises (a missing or damaged file, a dataset in another layout, an unknown
# name, an invalid value): every subcommand prints `fernb: error: <message>` to stderr, no
# traceback, and exits 1. Any other exception is a defect and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """``fernb``'s argument parser: one subcommand per job, grouped as below."""
    parser = argparse.ArgumentParser(prog="fernb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_stage_commands, _data_commands, _model_commands, _predict_commands, _results_commands):
        add(sub)
    return parser


def _stage_commands(sub) -> None:
    """The subcommands for stages and their parameters: run, params, index, notebooks, profile."""
    run = sub.add_parser("run", help="execute notebooks/STAGE.ipynb with its params.yaml keys and export HTML")
    run.add_argument("stage", help="stage name, e.g. 00_data_prep")
    run.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                     help="override one declared parameter (value parsed as YAML); repeatable")
    run.add_argument("--params-file", metavar="YAML", help="overrides from a file such as the search's best.yaml "
                     "({section: {key: value}}); -p wins over it")
    run.add_argument("--quiet", action="store_true", help="do not stream cell outputs")

    show = sub.add_parser("params", help="print the parameters a stage's notebook receives")
    show.add_argument("stage")

    sub.add_parser("index", help="write reports/index.html linking every notebook report")

    site = sub.add_parser("site", help="build the reader's site (site/index.html): the docs, the executed notebooks from "
                          "reports/ and the claims ledger, offline (Sphinx + myst-nb)")
    site.add_argument("--check", action="store_true", help="then load every page in headless Chromium and report "
                      "console errors, requests off localhost, broken links, code folding and the ledger filter")
    site.add_argument("--screenshots", default=None, help="with --check: a folder for front.png and notebook.png")

    nbs = sub.add_parser("notebooks", help="regenerate every notebook's parameters cell from params.yaml and write its "
                         "paired .py (jupytext percent format); a .py edited after its .ipynb is read back first")
    nbs.add_argument("--check", action="store_true", help="list what is out of step and exit 1; change nothing")

    prof = sub.add_parser("profile", help="print a profile's settings as dvc exp run -S flags (make real / make paper), "
                          "after checking them against params.yaml and its schema")
    prof.add_argument("profile", help="a file under profiles/ (real, paper) or a path to one")
    prof.add_argument("--dataset", help="the dataset the run trains on (the profile's per_dataset entry)")


def _data_commands(sub) -> None:
    """The subcommands for datasets: prepare, locate, shifts."""
    prep = sub.add_parser("prepare", help="load a dataset and write its prepared store (what notebook 00 does, without the report)")
    prep.add_argument("dataset", help="synthfer, fer2013, ferplus, rafdb, affectnet, kdef, ckplus or facial_expressions")
    prep.add_argument("--data-root", help="archive/CSV/folder of a real dataset (default: search $FERNB_DATA)")
    prep.add_argument("-o", "--out", help="store folder (default data/prepared/DATASET)")
    prep.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="loader option, e.g. n_train=500")
    prep.add_argument("--face-backend", default="auto", choices=("auto", "fan", "mtcnn", "opencv"),
                      help="photo datasets (rafdb, affectnet, kdef, ckplus, facial_expressions): face detector "
                           "(default auto: FAN, else MTCNN, else OpenCV's Haar cascades, with a warning)")
    prep.add_argument("--face-size", type=int, default=224, help="photo datasets: aligned crop side in pixels (default 224)")

    lo = sub.add_parser("locate", help="say where each real dataset is read from (exit 1 naming where it looked and "
                        "the layouts it accepts when one is missing); make real checks this before it starts")
    lo.add_argument("dataset", nargs="+", help="fer2013, ferplus, rafdb, affectnet, kdef, ckplus or facial_expressions")
    lo.add_argument("--data-root", help="archive/folder of the first dataset, or a folder holding them (default: $FERNB_DATA)")
    lo.add_argument("--datasets-list", action="store_true",
                    help="print params.yaml's `datasets` for a real-data run instead: the named datasets, then every "
                         "other real dataset found (e.g. [fer2013,ferplus,facial_expressions])")

    shifts = sub.add_parser("shifts", help="render the SynthFER domain shifts of params.yaml's shifts section (the "
                            "synthfer section's faces with one factor changed each) into data/prepared/shifts/")
    shifts.add_argument("--quiet", action="store_true", help="no progress bar")


def _model_commands(sub) -> None:
    """The subcommands for models: card, train, search."""
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
    tr.add_argument("--params-file", metavar="YAML", help="overrides from a file such as the search's best.yaml "
                    "({section: {key: value}}); -p wins over it")

    se = sub.add_parser("search", help="Optuna search over a recipe's knobs on validation data (params.yaml's "
                        "search section); run it in several shells or machines to add workers to one study")
    se.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                    help="override a key of stage 03's parameters, e.g. search.trials=20 or "
                    "search.storage=postgresql://user:pw@host/fernb (value parsed as YAML); repeatable")


def _predict_commands(sub) -> None:
    """The subcommands for trained checkpoints: predict, export."""
    pr = sub.add_parser("predict", help="read emotions from images, folders, a video or a webcam with a trained checkpoint",
                        description="Detect every face, align it and CLAHE it as the training images were, and "
                        "write one row per face (source, frame, time, face, box, landmarks, status, prediction, "
                        "one probability per class); a frame without a face is one row with status no_face. "
                        "Ctrl-C stops a video or webcam run keeping every row and annotated frame done so far.")
    pr.add_argument("checkpoint", metavar="CHECKPOINT", help="a model.pt written by training, its run folder "
                    "(runs/STAGE/MODEL/seedK), or a stage folder holding one model (its seed0 is used)")
    pr.add_argument("sources", nargs="*", metavar="SOURCE",
                    help="image files, folders of images (sorted), video files, or a webcam index such as 0")
    pr.add_argument("--source", action="append", default=[], metavar="SOURCE", dest="more_sources",
                    help="one more SOURCE, e.g. --source 0 for the first webcam; repeatable")
    pr.add_argument("--csv", metavar="PATH",
                    help="write the rows as CSV (landmarks as a JSON string), flushed as they come")
    pr.add_argument("--json", metavar="PATH", help="write the rows as JSON Lines (one JSON object per line, flushed "
                    "as they come: an interrupted run leaves every line it wrote valid)")
    pr.add_argument("--annotate", metavar="PATH", help="draw boxes, landmarks and the top class: an image file for "
                    "one image, a video (.mp4, .avi, .mov; the source's fps and size) for a video or webcam, "
                    "else a folder of annotated images and videos")
    pr.add_argument("--max-frames", type=int, metavar="N", help="read at most N frames of each video or webcam")
    pr.add_argument("--batch-size", type=int, default=64, metavar="N",
                    help="faces scored together, across frames (default 64)")
    pr.add_argument("--device", default="auto", metavar="NAME",
                    help="auto (CUDA, else MPS, else CPU), cpu, cuda or cuda:N")
    pr.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp16", "off"),
                    help="autocast for the network (default auto: bf16 or fp16 on a GPU, off on CPU)")
    pr.add_argument("--face-backend", default="auto", choices=("auto", "fan", "mtcnn", "opencv"),
                    help="face detector (default auto: FAN, else MTCNN, else OpenCV's Haar cascades, with a warning)")
    pr.add_argument("--enlarge", type=float, default=None, metavar="X",
                    help="face-box enlargement around the aligned face (default: as the training images were framed, "
                         "recorded in the checkpoint: 1.0 for pre-cropped sets such as FER2013, the pipeline's 1.3 for "
                         "photographs; 1.3 for a checkpoint that records nothing)")
    pr.add_argument("--clahe", action=argparse.BooleanOptionalAction, default=None,
                    help="CLAHE on the aligned face (default: as the training images had it, recorded in the checkpoint)")
    pr.add_argument("--model", metavar="NAME", help="the model the checkpoint must hold (e.g. lanmsff); another is refused")
    pr.add_argument("--num-classes", type=int, metavar="K",
                    help="the class count the checkpoint must have; another is refused")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")

    ex = sub.add_parser("export", help="export a trained checkpoint to ONNX (dynamic batch) and check it against PyTorch")
    ex.add_argument("checkpoint", metavar="CHECKPOINT", help="a model.pt, its run folder, or a stage folder holding one model")
    ex.add_argument("-o", "--out", metavar="PATH", help="the .onnx file (default: beside the checkpoint, model.onnx)")


def _results_commands(sub) -> None:
    """The subcommands for committed real-data results: results export|check|table."""
    res = sub.add_parser("results", help="a finished run's results without the data's pixels, for committing "
                         "under results/DATASET/: export, check, README table")
    rsub = res.add_subparsers(dest="results_command", required=True)
    rex = rsub.add_parser("export", help="copy the finished pipeline's numbers, predictions, face-free figures, model "
                          "cards and small weights for DATASET into results/DATASET/ with provenance.json")
    rex.add_argument("dataset", metavar="DATASET", help="the dataset stages 01/02 trained on, e.g. fer2013")
    rex.add_argument("--out", metavar="DIR", help="the folder to write (default results/DATASET; replaced when it "
                     "holds an earlier export)")
    rex.add_argument("--max-model-mb", type=float, default=5.0, metavar="MB",
                     help="copy a run's model.pt only up to this size (default 5: LANMSFF's weights, not HAFEM's)")
    rex.add_argument("--command", metavar="TEXT", dest="produced_by", help="the command that produced the run, recorded in "
                     "provenance.json (e.g. \"make real DATASET=fer2013\"; default: this command line)")
    rex.add_argument("--runs", metavar="STAGES", help="training stages whose run folders are copied, comma-separated "
                     "(default: 01_hafem,02_lanmsff; 'all': every one that trained on DATASET, 03's ablations included)")
    rch = rsub.add_parser("check", help="list what must not be committed in results folders (provenance, file types, "
                          "figures off the allow-list, faces a detector finds); exit 1 when anything is found")
    rch.add_argument("folders", nargs="*", metavar="DIR", help="results folders (default: every results/*/)")
    rtb = rsub.add_parser("table", help="print the markdown table of every committed results/*/ folder")
    rtb.add_argument("--update-readme", action="store_true",
                     help="also put it between README.md's results-table markers")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Each command imports what it needs when it runs (torch, papermill, OpenCV take seconds to
    # import), so `fernb --help` and `fernb params` answer at once.
    from fernb.workbook import stages

    handler, errors = COMMANDS[args.command]
    try:
        return handler(args, sys.argv[1:] if argv is None else argv)
    except (*errors, stages.StageError) as err:   # wrong input: said in one line, no traceback
        return _fail(err)


def _run(args, argv) -> int:
    from fernb.workbook import stages

    page = stages.run_stage(args.stage, overrides=_overrides(args), log_output=not args.quiet)
    print(f"fernb: {args.stage} done -> {page}")
    return 0


def _params(args, argv) -> int:
    from fernb.workbook import stages

    for name, value in stages.stage_parameters(args.stage).items():
        print(f"{name} = {value!r}")
    return 0


def _index(args, argv) -> int:
    from fernb.workbook.index_page import build_index

    print(f"fernb: index -> {build_index()}")
    return 0


def _site(args, argv) -> int:
    """``fernb site [--check]`` (:mod:`fernb.workbook.site`, :mod:`fernb.workbook.site_check`); with
    ``--check``, exit 1 when a reader would meet a problem."""
    from fernb.workbook.site import build_site

    front = build_site()
    print(f"fernb: site -> {front}")
    if not args.check:
        return 0
    from fernb.workbook import site_check

    missing = site_check.chromium_missing()
    if missing:
        print(f"fernb: site --check cannot run: {missing}", file=sys.stderr)
        return 1
    if args.screenshots:
        Path(args.screenshots).mkdir(parents=True, exist_ok=True)
    report = site_check.check_site(front.parent, screenshots=args.screenshots)
    problems = report["console_errors"] + report["external_requests"] + report["broken_links"]
    problems += [f"{page}: code not folded on load or not opened by a click" for page, state in report["folding"].items()
                 if not state["toggles"] or state["open"] or not state.get("opened_by_click")]
    print(f"fernb: {len(report['pages'])} pages loaded; ledger search: {report['ledger_filter']}")
    for problem in problems:
        print(f"fernb: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _notebooks(args, argv) -> int:
    """``fernb notebooks [--check]`` (:func:`fernb.workbook.notebooks.sync_notebooks`)."""
    from fernb.workbook.notebooks import sync_notebooks

    changes = sync_notebooks(check=args.check)
    for change in changes:
        print(f"fernb: {change}", file=sys.stderr if args.check else sys.stdout)
    if not changes:
        print("fernb: notebooks, parameters cells and paired .py files are in step")
    return 1 if (args.check and changes) else 0


def _train(args, argv) -> int:
    for result in train_stage(args.stage, _overrides(args)):
        if int(os.environ.get("RANK", 0)) == 0:
            print(f"fernb: {result.dir}: test accuracy {result.test.accuracy:.4f}, macro-F1 {result.test.f1:.4f}")
    return 0


def _search(args, argv) -> int:
    return search_stage(_parse_overrides(args.param))


def _fail(err: BaseException) -> int:
    """Print ``fernb: error: <message>`` to stderr (a KeyError's message without its quotes); exit status 1."""
    message = err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 else str(err)
    for line in str(message).splitlines() or [""]:   # several problems (a schema check): each its own line
        print(f"fernb: error: {line}", file=sys.stderr)
    return 1


def _parse_overrides(pairs: list[str] | None) -> dict:
    """``-p NAME=VALUE`` pairs as a dict (values parsed as YAML); a value that is not YAML is a
    :class:`~fernb.workbook.stages.StageError` naming the pair."""
    import yaml

    from fernb.workbook import stages

    out = {}
    for pair in pairs or []:
        try:
            out.update(stages.parse_overrides([pair]))
        except yaml.YAMLError as err:
            raise stages.StageError(f"parameter override {pair!r}: the value is not valid YAML ({_yaml_problem(err)})") from None
    return out


def _yaml_problem(err) -> str:
    """A YAML parser error in one line: the problem and where (line, column)."""
    problem = getattr(err, "problem", None) or " ".join(str(err).split())
    mark = getattr(err, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def _profile(args, argv=None) -> int:
    """``fernb profile``: the profile's ``-S`` flags on one line (:func:`fernb.workbook.profiles.dvc_flags`)."""
    import shlex

    from fernb.workbook.profiles import dvc_flags

    print(" ".join(shlex.quote(flag) if flag != "-S" else flag for flag in dvc_flags(args.profile, args.dataset)))
    return 0


def _prepare(args, argv=None) -> int:
    """``fernb prepare``: load a dataset (generate SynthFER) and write its prepared store."""
    from fernb.data import KNOWN_SOURCES, WILD, find_source, load, prepared_dir, write_store

    options = _parse_overrides(args.param)
    _check_loader_options(args.dataset, options)
    if args.dataset in KNOWN_SOURCES:
        find_source(args.dataset, args.data_root)   # a missing data root is said before any face model loads
    if args.dataset in WILD:
        from fernb.data.photos import default_cache_dir
        from fernb.faces import FacePipeline

        options["pipeline"] = FacePipeline(backend=args.face_backend, size=args.face_size, cache_dir=default_cache_dir())
    start = time.perf_counter()
    data = load(args.dataset, args.data_root, **options)
    loaded = time.perf_counter()
    out = write_store(data, args.out or prepared_dir(args.dataset))
    print(f"fernb: {data!r}")
    print(f"fernb: loaded in {loaded - start:.1f} s, stored in {time.perf_counter() - loaded:.1f} s -> {out}")
    return 0


def _locate(args, argv=None) -> int:
    """``fernb locate``: each named real dataset's source, or the ``datasets`` list of a real-data run."""
    from fernb.data import locate, present_datasets

    found = {name: locate(name, args.data_root if i == 0 else None) for i, name in enumerate(args.dataset)}
    if args.datasets_list:
        others = [d for d in present_datasets() if d not in found]
        print("[" + ",".join([*found, *others]) + "]")
    else:
        for name, path in found.items():
            print(f"{name}: {path}")
    return 0


def _check_loader_options(dataset: str, options: dict) -> None:
    """ValueError naming any ``-p`` option that ``dataset``'s loader (SynthFER's generator) does not take.

    An unknown dataset passes: :func:`fernb.data.load` says which datasets there are."""
    import importlib
    import inspect

    from fernb.data import LOADERS
    from fernb.data.synthfer import generate

    if dataset == "synthfer":
        function, skip = generate, set()
    elif dataset in LOADERS:
        module, name = LOADERS[dataset]
        function = getattr(importlib.import_module(f"fernb.data.{module}"), name)
        skip = {next(iter(inspect.signature(function).parameters))}   # the path, which --data-root gives
    else:
        return
    params = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = [n for n, p in params.items() if n not in skip and n != "pipeline"
             and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ValueError(f"{dataset}: unknown loader option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(-p NAME=VALUE); it takes {', '.join(takes)}")


def _overrides(args) -> dict:
    """``--params-file`` (``{section: {key: value}}``) then ``-p`` overrides, as one dict."""
    from fernb.workbook import stages

    overrides = {}
    if getattr(args, "params_file", None):
        import yaml

        from fernb.train.search import read_params_file

        try:
            overrides.update(read_params_file(args.params_file))
        except yaml.YAMLError as err:
            raise stages.StageError(f"params file {args.params_file} is not valid YAML ({_yaml_problem(err)})") from None
        except (ValueError, OSError) as err:   # missing, unreadable, not a mapping of sections
            raise stages.StageError(str(err)) from None
    overrides.update(_parse_overrides(args.param))
    return overrides


def search_stage(overrides: dict | None = None, stage: str = "03_ablations") -> int:
    """``fernb search``: run (or join) the Optuna study of stage 03's ``search`` section on the
    prepared dataset, print its trials and write ``best.yaml`` (:mod:`fernb.train.search`)."""
    from fernb.data import load_prepared
    from fernb.data.protocols import FOLD_DATASETS, apply_protocol
    from fernb.train import search
    from fernb.workbook.stages import stage_parameters

    params = stage_parameters(stage, None, overrides)
    dataset = params["dataset"]
    data = apply_protocol(load_prepared(dataset), params["test_fold"] if dataset in FOLD_DATASETS else None)
    sections = {name: params[name] for name in ("hafem", "lanmsff")}
    recipe = params["search"]["recipe"]
    study = search.run_search(params["search"], sections, params["train"], data,
                              default_scale=(params["ablations"].get(recipe) or {}))
    print(search.trials_frame(study).to_string(index=False))
    best = search.write_best(search.best_path(study.study_name), study, recipe, sections[recipe])
    print(f"fernb: best trial {study.best_trial.number} (validation macro-F1 {study.best_value:.4f}) -> {best}")
    return 0


def stage_recipe(stage: str, overrides: dict | None = None, root=None):
    """The recipe a training stage runs (:mod:`fernb.train.recipes`), from the ``params.yaml``
    sections ``dvc.yaml`` declares for it, plus ``overrides``; and the stage's parameters."""
    from fernb.train.recipes import RECIPES, TRAINING_STAGES
    from fernb.workbook.stages import stage_parameters

    if stage not in TRAINING_STAGES:
        raise ValueError(f"stage {stage!r} trains no model; training stages: {sorted(TRAINING_STAGES)}")
    section = TRAINING_STAGES[stage]
    params = stage_parameters(stage, root, overrides)
    return RECIPES[section](params[section], params["train"]), params


def train_stage(stage: str, overrides: dict | None = None) -> list:
    """Train every seed of a training stage (``01_hafem``, ``02_lanmsff``) with its
    ``params.yaml`` parameters plus ``overrides``, on the prepared store notebook 00 wrote.

    This is what the stage's notebook does before reporting; run it under ``torchrun`` to
    train on several GPUs, then ``dvc repro`` (same parameters) finds the runs finished and
    writes the report without training again.
    """
    from fernb.data import load_prepared
    from fernb.data.protocols import FOLD_DATASETS, apply_protocol
    from fernb.paths import reports_dir
    from fernb.train.recipes import run_recipe

    recipe, params = stage_recipe(stage, overrides)
    dataset = params["dataset"]
    data = apply_protocol(load_prepared(dataset), params["test_fold"] if dataset in FOLD_DATASETS else None)
    return run_recipe(stage, recipe, data, live_root=reports_dir(stage) / "live")


def _shifts(args, argv=None) -> int:
    """``fernb shifts``: :func:`fernb.data.shifts.prepare_shifts` on params.yaml's ``synthfer``
    and ``shifts`` sections, one line per written store."""
    from fernb.data import read_meta
    from fernb.data.shifts import prepare_shifts
    from fernb.paths import project_root
    from fernb.workbook import stages
    from fernb.workbook.params_schema import ParamsError, validate_params

    params = stages._load_yaml(project_root() / "params.yaml")
    try:
        validate_params(params, "params.yaml")
    except ParamsError as err:
        return _fail(err)
    missing = [name for name in ("synthfer", "shifts") if not isinstance(params.get(name), dict)]
    if missing:
        print(f"fernb: error: params.yaml has no {' or '.join(missing)} section", file=sys.stderr)
        return 1
    start = time.perf_counter()
    try:
        written = prepare_shifts(params["synthfer"], params["shifts"], progress=not args.quiet)
    except (*USER_ERRORS, KeyError) as err:   # a shift that is no shift, a missing key, an unwritable store
        return _fail(err)
    for name, path in written.items():
        meta = read_meta(path)
        sizes = ", ".join(f"{split}={n}" for split, n in meta["split_sizes"].items())
        print(f"fernb: {name}: {meta['num_samples']} images ({sizes}) -> {path}")
    print(f"fernb: {len(written)} shifts in {time.perf_counter() - start:.1f} s")
    return 0


def _card(args, argv=None) -> int:
    import json
    from pathlib import Path

    from fernb.models import load_model, model_card

    try:
        shape = _input_shape(args.input) if args.input else None
        knobs = _parse_overrides(args.param)
        if shape is not None:
            knobs.setdefault("in_chans", shape[0])  # the data's channels are the model's input channels
        model = Path(args.model)
        if model.is_file():
            if knobs:
                raise ValueError("a checkpoint carries its own configuration; drop -p")
            card = model_card(load_model(args.model), input_shape=shape, name=args.model)
        elif model.suffix in (".pt", ".pth") or model.is_dir() or (os.sep in args.model and not args.model.startswith("timm/")):
            state = "is a folder, not a file" if model.is_dir() else "does not exist"
            raise FileNotFoundError(f"checkpoint {args.model} {state}; expected a model name (lanmsff, hafem, "
                                    "resnet50, efficientnet_b4, vit_base_16, swin_tiny, timm/<architecture>) or a "
                                    "model.pt written by fernb")
        else:
            card = model_card(args.model, input_shape=shape, **knobs)
    except (*USER_ERRORS, TypeError) as err:   # TypeError: a -p the model does not take
        return _fail(err)
    print(json.dumps(card.as_dict(), indent=2) if args.json else card)
    return 0


def _input_shape(text: str) -> tuple[int, int, int]:
    """``--input C,H,W`` as three positive integers."""
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"--input {text!r}: expected C,H,W, three positive integers such as 1,48,48")
    return shape


def _export(args, argv=None) -> int:
    from pathlib import Path

    from fernb.models import load_model
    from fernb.realtime.export import check_onnx, export_onnx
    from fernb.realtime.predict import training_inputs
    from fernb.runs import find_checkpoint

    try:
        checkpoint = find_checkpoint(args.checkpoint)
        model = load_model(checkpoint)
        inputs = training_inputs(model, checkpoint)
        out = export_onnx(model, Path(args.out) if args.out else checkpoint.with_suffix(".onnx"), classes=inputs.classes)
    except USER_ERRORS as err:   # no such checkpoint, not a fernb checkpoint, an unwritable output
        return _fail(err)
    check = check_onnx(model, out)
    print(f"fernb: {checkpoint} -> {out} ({out.stat().st_size / 1e6:.1f} MB); input float32 "
          f"(N, {model.in_chans}, {model.input_size[0]}, {model.input_size[1]}) in [0, 1], output logits (N, "
          f"{model.num_classes}): {', '.join(inputs.classes)}")
    print(f"fernb: ONNX Runtime vs PyTorch on batches {check['batch_sizes']}: max |logit difference| "
          f"{check['max_abs_diff']:.2g} (bound {check['bound']:g}) -> {'ok' if check['ok'] else 'OUT OF BOUND'}")
    return 0 if check["ok"] else 1


def _results(args, argv: list[str]) -> int:
    """``fernb results export|check|table`` (:mod:`fernb.workbook.results`)."""
    import shlex
    from pathlib import Path

    from fernb.paths import project_root
    from fernb.workbook import results

    root = project_root()
    if args.results_command == "export":
        stages = (None if args.runs == "all" else [s.strip() for s in args.runs.split(",") if s.strip()] if args.runs
                  else results.DEFAULT_RUNS)
        out = results.export(args.dataset, root, args.out, command=args.produced_by or shlex.join(["fernb", *argv]),
                             max_model_mb=args.max_model_mb, runs=stages)
        files = [p for p in out.rglob("*") if p.is_file()]
        print(f"fernb: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB -> {out}")
        problems = results.check_results(out)
        for problem in problems:
            print(f"fernb: problem: {problem}", file=sys.stderr)
        return 1 if problems else 0
    if args.results_command == "check":
        folders = [Path(f) for f in args.folders] or sorted(p for p in (root / results.RESULTS_DIR).glob("[!.]*") if p.is_dir())
        if not folders:
            print(f"fernb: no results folders under {root / results.RESULTS_DIR}")
            return 0
        bad = 0
        for folder in folders:
            problems = results.check_results(folder)
            bad += bool(problems)
            for problem in problems:
                print(f"fernb: {folder}: {problem}", file=sys.stderr)
            if not problems:
                print(f"fernb: {folder}: ok")
        return 1 if bad else 0
    table = results.readme_table(root / results.RESULTS_DIR)
    print(table)
    if args.update_readme:
        changed = results.update_readme(root / "README.md", root / results.RESULTS_DIR)
        print(f"fernb: README.md {'updated' if changed else 'already up to date'}", file=sys.stderr)
    return 0


def _predict(args, argv=None) -> int:
    from fernb.realtime.predict import Predictor, predict_sources

    sources = [*args.sources, *args.more_sources]
    if not sources:
        print("fernb: error: no SOURCE: give image files, folders, a video or a webcam index", file=sys.stderr)
        return 1
    if not (args.csv or args.json or args.annotate):
        print("fernb: note: no --csv, --json or --annotate: only the summary is printed", file=sys.stderr)
    try:
        predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, model=args.model,
                                              num_classes=args.num_classes, face_backend=args.face_backend,
                                              enlarge=args.enlarge, clahe=args.clahe, batch_size=args.batch_size,
                                              amp=args.amp)
        print(f"fernb: {predictor.describe()}")
        run = predict_sources(predictor, sources, csv=args.csv, json_lines=args.json, annotate=args.annotate,
                              max_frames=args.max_frames, progress=not args.quiet, keep_rows=False)
    except USER_ERRORS as err:   # bad checkpoint, input or output path: say so, no traceback
        return _fail(err)
    except KeyboardInterrupt:              # before any frame was read
        print("fernb: interrupted", file=sys.stderr)
        return 130
    print(f"fernb: {run.report()}")
    for path in run.outputs:
        print(f"fernb: -> {path}")
    if run.interrupted:
        print(f"fernb: interrupted after {run.frames} frames; their rows and annotations are written", file=sys.stderr)
        return 130
    return 0


# Each subcommand's handler and the errors that are wrong input for it (said in one line, exit 1): no such
# file or dataset, a damaged archive or another layout, an unknown name, a value the schema refuses. Any
# other exception is a defect and keeps its traceback. Handlers that catch their own say so (shifts, card,
# predict, export).
COMMANDS = {
    "run": (_run, ()), "params": (_params, ()), "index": (_index, ()), "site": (_site, ()),
    "notebooks": (_notebooks, USER_ERRORS), "profile": (_profile, USER_ERRORS),
    "prepare": (_prepare, USER_ERRORS), "locate": (_locate, USER_ERRORS), "shifts": (_shifts, ()),
    "card": (_card, ()), "predict": (_predict, ()), "export": (_export, ()),
    "results": (_results, USER_ERRORS), "train": (_train, USER_ERRORS),
    "search": (_search, (*USER_ERRORS, KeyError)),   # the search section's checks raise KeyError for unknown keys
}

if __name__ == "__main__":
    sys.exit(main())
