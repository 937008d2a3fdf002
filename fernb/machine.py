"""The machine a number comes from: which device runs it, at which precision, and the record of
the library versions and commit kept with every result.

:func:`select_device` and :func:`amp_plan` are the one place that picks the device and the
autocast precision, for training, inference and benchmarks alike.

A latency or an accuracy means little without the device, the thread count and the code
that produced it; :func:`environment` gathers them in one plain dict (JSON-ready), so the
trainer's ``result.json`` and the benchmark's JSON carry the same description.
"""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import timm
import torch

from fernb.paths import project_root

__all__ = ["environment", "cpu_name", "git_commit", "select_device", "amp_plan"]


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what :mod:`platform` knows."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


# What "+dirty" looks at: the code that produced a result. Pipeline outputs (dvc.lock, reports/)
# change while ``dvc repro`` runs, and parameters are recorded by DVC itself.
CODE_PATHS = ("fernb", "notebooks", "benchmarks", "pyproject.toml")


def git_commit(root: str | os.PathLike | None = None) -> str | None:
    """Short commit of the checkout, suffixed ``+dirty`` when tracked code (:data:`CODE_PATHS`)
    differs from it; None outside git."""
    try:
        cwd = root or project_root()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=cwd, timeout=5).stdout.strip()
        if not commit:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                               capture_output=True, text=True, cwd=cwd, timeout=5).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):  # no git, or not a checkout
        return None


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out.splitlines()[0] if out else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device | str = "cpu") -> dict:
    """Versions, device, threads, commit, the lock's sha256 and UTC date for a result's record.

    ``lock_sha256`` is the sha256 (hex) of the project root's ``requirements.lock``, the exact
    environment ``make repro`` and ``make test`` install; None without one (fernb installed
    as a library)."""
    import hashlib

    device = torch.device(device)
    env = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "python": platform.python_version(), "torch": torch.__version__, "timm": timm.__version__,
           "numpy": np.__version__, "platform": platform.platform(), "device": str(device),
           "cpu": cpu_name(), "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
           "interop_threads": torch.get_num_interop_threads()}
    try:
        import onnxruntime  # optional: recorded when installed

        env["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        env.update(gpu=torch.cuda.get_device_name(index), cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), driver=_nvidia_driver(),
                   gpu_memory_gb=round(torch.cuda.get_device_properties(index).total_memory / 2**30, 1))
    env["commit"] = git_commit()
    lock = project_root() / "requirements.lock"
    env["lock_sha256"] = hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None
    return env


# --------------------------------------------------------------------- device and numerics
def select_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when present (the local rank's GPU under torchrun), else Apple MPS, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but torch sees no CUDA GPU (torch {torch.__version__})")
    return device


def amp_plan(device: torch.device, amp: str = "auto") -> tuple[bool, torch.dtype | None, bool]:
    """``(autocast on, its dtype, GradScaler on)`` for ``amp`` on ``device``.

    ``auto``: bf16 on a GPU that supports it (no scaler needed: bf16 has float32's range),
    else fp16 with gradient scaling (HAFEM's "mixed precision with gradient scaling");
    off on CPU and MPS, where autocast is slower than float32 on most machines.
    """
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return False, None, False
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if amp == "bf16":
        return True, torch.bfloat16, False
    if amp == "fp16":
        return True, torch.float16, device.type == "cuda"
    raise ValueError(f"amp must be auto, bf16, fp16 or off, got {amp!r}")
