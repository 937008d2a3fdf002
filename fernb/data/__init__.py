"""Datasets: one interface (:class:`FERData`), one loader entry point, one store.

>>> data = load("synthfer", n_train=100, n_val=20, n_test=20)
>>> store = write_store(data, prepared_dir("synthfer"))
>>> data = load_store(store)                                   # later notebooks
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from fernb.data.core import SPLITS, DatasetFormatError, FERData
from fernb.data.store import load_store, read_meta, write_store
from fernb.data.synthfer import generate
from fernb.paths import data_dir, prepared_dir

__all__ = [
    "SPLITS", "DatasetFormatError", "FERData", "DATASETS", "WILD", "LAYOUTS", "load", "find_source", "locate",
    "present_datasets",
    "write_store", "load_store", "read_meta", "prepared_dir", "load_prepared", "loader_options",
]

# What each real dataset's publisher ships, in the order we look for it under $FERNB_DATA.
KNOWN_SOURCES: dict[str, tuple[str, ...]] = {
    "fer2013": ("fer2013_msambare.zip", "archive.zip", "fer2013.tar.gz", "fer2013.zip", "fer2013.csv", "fer2013"),
    "ferplus": ("ferplus.zip", "FERPlus.zip", "FERPlus", "ferplus"),
    # In-the-wild / posed datasets: run through the face pipeline (fernb.faces) on loading.
    "rafdb": ("basic.zip", "basic", "RAF-DB.zip", "RAF-DB", "rafdb"),
    "affectnet": ("AffectNet.zip", "AffectNet", "Manually_Annotated.zip", "Manually_Annotated", "affectnet"),
    "kdef": ("KDEF_and_AKDEF.zip", "KDEF_and_AKDEF", "KDEF.zip", "KDEF", "kdef"),
    # CK+ in the publisher's layout first, else its shared 48x48 variant (load_ckplus reads either)
    "ckplus": ("CK+.zip", "CK+", "extended-cohn-kanade-images.zip", "ckplus", "CK+48.zip", "CK+48"),
    # Test-only (no split of its own; fernb.data.protocols refuses to train on it).
    "facial_expressions": ("facial_expressions_dev.zip", "facial_expressions.zip", "facial_expressions-master.zip",
                           "facial_expressions", "facial_expressions-master"),
}
# Loader of each real dataset: module under fernb.data and function name.
LOADERS: dict[str, tuple[str, str]] = {
    "fer2013": ("fer2013", "load_fer2013"), "ferplus": ("ferplus", "load_ferplus"),
    "rafdb": ("rafdb", "load_rafdb"), "affectnet": ("affectnet", "load_affectnet"),
    "kdef": ("kdef", "load_kdef"), "ckplus": ("ckplus", "load_ckplus"),
    "facial_expressions": ("facialexpressions", "load_facial_expressions"),
}
# The layouts each loader accepts, said when a dataset is not found (docs/data.md has the table).
LAYOUTS: dict[str, str] = {
    "fer2013": ("the Kaggle challenge fer2013.csv (emotion,pixels,Usage; also inside fer2013.tar.gz or a zip), or the "
                "Kaggle image-folder layout train/<class>/Training_*.jpg, test/<class>/{PublicTest,PrivateTest}_*.jpg"),
    "ferplus": ("FER2013Train/, FER2013Valid/, FER2013Test/ PNG folders with their label.csv, or fer2013new.csv "
                "plus FER2013's fer2013.csv"),
    "rafdb": "EmoLabel/list_patition_label.txt + Image/aligned/*_aligned.jpg (or Image/original/ with Annotation/)",
    "affectnet": "Manually_Annotated_file_lists/{training,validation}.csv + Manually_Annotated_Images/",
    "kdef": "KDEF/<AF01>/<AF01ANS>.JPG (session, sex, id, expression, pose)",
    "ckplus": ("cohn-kanade-images/Sxxx/nnn/*.png + Emotion/Sxxx/nnn/*_emotion.txt, or the shared 48x48 crops "
               "CK+48/<emotion>/Sxxx_nnn_NNNNNNNN.png"),
    "facial_expressions": "data/legend.csv (user.id,image,emotion) + images/*.jpg",
}
# Datasets of photographs (not pre-cropped 48x48 faces): their loaders take face-pipeline options
# (load_ckplus takes them too when it finds CK+48, and records that they did not apply).
WILD: tuple[str, ...] = ("rafdb", "affectnet", "kdef", "ckplus", "facial_expressions")
DATASETS: tuple[str, ...] = ("synthfer", *KNOWN_SOURCES)


def find_source(dataset: str, data_root: str | os.PathLike | None = None) -> Path:
    """The file or folder to read ``dataset`` from.

    ``data_root`` may name the archive/CSV/folder itself, or a folder holding it under
    one of its published names; when None, the ``FERNB_DATA`` folder is searched.
    """
    names = KNOWN_SOURCES[dataset]
    if data_root is not None:
        root = Path(data_root).expanduser()
        if not root.exists():
            raise FileNotFoundError(f"{dataset}: data_root {root} does not exist; expected one of {names} or a folder holding it")
        for name in names:
            if root.is_dir() and (root / name).exists():
                return root / name
        return root
    folder = data_dir()
    if folder is None:
        raise FileNotFoundError(
            f"{dataset}: no data_root given and FERNB_DATA is not set. Set data.data_root in "
            f"params.yaml (or `-S data.data_root=PATH`) or export FERNB_DATA=<folder holding one of {names}>"
        )
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{dataset}: none of {names} found in FERNB_DATA={folder}")


def locate(dataset: str, data_root: str | os.PathLike | None = None) -> Path:
    """:func:`find_source`, with an error that names where it looked and the layouts accepted
    (what ``make real`` checks before it starts anything)."""
    if dataset not in KNOWN_SOURCES:
        raise ValueError(f"{dataset}: not a real dataset; one of {', '.join(KNOWN_SOURCES)}")
    try:
        found = find_source(dataset, data_root)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err}. {dataset} is read from: {LAYOUTS[dataset]}") from None
    if not found.exists():
        raise FileNotFoundError(f"{dataset}: {found} does not exist. {dataset} is read from: {LAYOUTS[dataset]}")
    return found


def present_datasets(data_root: str | os.PathLike | None = None) -> list[str]:
    """The real datasets found under ``data_root`` (a folder) or ``FERNB_DATA``, in
    :data:`KNOWN_SOURCES` order; empty when neither names a folder."""
    found = []
    for name in KNOWN_SOURCES:
        try:
            if data_root is None or Path(data_root).is_dir():
                locate(name, data_root)
                found.append(name)
        except FileNotFoundError:
            continue
    return found


def load(dataset: str, data_root: str | os.PathLike | None = None, **options) -> FERData:
    """Load ``dataset`` (one of :data:`DATASETS`) into a :class:`FERData`.

    SynthFER is generated (``options`` go to :func:`fernb.data.synthfer.generate`); the real
    datasets are read from the layouts their publishers ship (``options`` go to their loader;
    the photograph datasets in :data:`WILD` also take ``pipeline``, a
    :class:`fernb.faces.FacePipeline`).
    """
    if dataset == "synthfer":
        return generate(**options)
    if dataset in LOADERS:
        # each loader is imported by name when asked for: preparing SynthFER needs none of them
        module, function = LOADERS[dataset]
        loader = getattr(importlib.import_module(f"fernb.data.{module}"), function)
        return loader(find_source(dataset, data_root), **options)
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")


def load_prepared(dataset: str, *, mmap: bool = False) -> FERData:
    """The prepared store that notebook 00 wrote for ``dataset``."""
    return load_store(prepared_dir(dataset), mmap=mmap)


# Each loader's keyword -> the notebook parameter (params.yaml key) that sets it.
_OPTION_PARAMS: dict[str, dict[str, str]] = {
    "synthfer": {"n_train": "n_train", "n_val": "n_val", "n_test": "n_test", "image_size": "image_size",
                 "seed": "synth_seed", "contempt": "contempt", "imbalance": "imbalance", "occlusion_prob": "occlusion_prob",
                 "identity_range": "identity_range"},
    "fer2013": {"on_unreadable": "on_unreadable"},
    "ferplus": {"rule": "vote_rule", "ties": "vote_ties", "num_classes": "ferplus_classes", "on_unreadable": "on_unreadable"},
    "rafdb": {"variant": "rafdb_variant", "val_fraction": "val_fraction"},
    "affectnet": {"num_classes": "wild_classes", "val_fraction": "val_fraction", "max_per_class": "affectnet_max_per_class"},
    "kdef": {"k": "k_folds", "test_fold": "test_fold", "fold_seed": "fold_seed"},
    "ckplus": {"num_classes": "wild_classes", "peak_frames": "ckplus_peak_frames", "k": "k_folds",
               "test_fold": "test_fold", "fold_seed": "fold_seed"},
    "facial_expressions": {"num_classes": "wild_classes"},
}


def loader_options(dataset: str, params: dict, pipeline=None) -> dict:
    """The keyword arguments of ``dataset``'s loader, picked from notebook parameters.

    ``params`` holds the parameters by their params.yaml key (``vote_rule``, ``k_folds``...);
    the photo datasets (:data:`WILD`) also get the face ``pipeline``.
    """
    if dataset not in _OPTION_PARAMS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    wanted = _OPTION_PARAMS[dataset]
    missing = sorted(p for p in wanted.values() if p not in params)
    if missing:
        raise KeyError(f"{dataset}: parameters {missing} are needed to load it")
    options = {option: params[name] for option, name in wanted.items()}
    if dataset in WILD:
        options["pipeline"] = pipeline
    return options
