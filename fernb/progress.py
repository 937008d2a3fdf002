"""Progress bars for every long loop in fernb: plain text, on stdout inside a notebook, on stderr in a terminal.

``tqdm.auto`` draws a widget inside Jupyter, and where ipywidgets is missing (the kernel
papermill runs the stages in) it warns ``TqdmWarning: IProgress not found`` and draws on
stderr, which a notebook shows as a warning box, once per redraw. :func:`progress_bar` is
always tqdm's plain-text bar (``tqdm.std``). Inside a Jupyter kernel it writes to the
kernel's stdout, so an executed notebook shows it as ordinary text (the HTML export keeps
each bar's last state: :func:`fernb.workbook.stages.coalesce_streams`), and it redraws at
most every :data:`NOTEBOOK_MININTERVAL` seconds, so that the saved notebook holds a few
states of a bar rather than hundreds. In a terminal it is tqdm as usual, on stderr.

Other libraries import ``tqdm.auto`` too (timm does, through huggingface_hub, although it
draws no bar here). Inside a kernel without ipywidgets that first import is what warns, so
importing this module inside a kernel makes it once, quietly; every fernb module with a
bar imports this one, and the notebooks reach one of those before timm.

>>> for images, labels in progress_bar(batches, desc="epoch 1", unit="batch", leave=False): ...
>>> bar = progress_bar(total=45, desc="benchmark"); bar.update(1); bar.set_postfix_str("b1"); bar.close()
"""
from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from typing import IO

from tqdm import tqdm

__all__ = ["NOTEBOOK_MININTERVAL", "in_kernel", "progress_bar"]

# seconds between two redraws of a bar inside a kernel: every redraw is one more output in the saved notebook
NOTEBOOK_MININTERVAL = 5.0


def in_kernel(stream: IO | None = None) -> bool:
    """Whether output goes to a Jupyter kernel: ``stream`` (default ``sys.stderr``) is ipykernel's
    ``OutStream``, or, with no ``stream`` given, IPython's running shell is a kernel's. True in
    JupyterLab and in the kernel papermill runs, false in a terminal or an IPython shell.

    A stream is looked at under colorama's wrapper: ``colorama.init()`` (which dvc's logger calls)
    wraps ``sys.stdout`` and ``sys.stderr`` of whatever process imports and sets it up, a kernel's
    too. ipykernel and IPython are never imported here: a process that has not loaded them is no kernel.
    """
    iostream = sys.modules.get("ipykernel.iostream")
    if iostream is not None and isinstance(_unwrapped(sys.stderr if stream is None else stream), iostream.OutStream):
        return True
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if stream is None and ipython is not None else None
    return getattr(shell, "kernel", None) is not None          # ipykernel's ZMQInteractiveShell has one


def _unwrapped(stream):
    """``stream`` without colorama's ``StreamWrapper`` around it (which forwards everything else to it)."""
    for _ in range(8):
        inner = vars(stream).get("_StreamWrapper__wrapped") if hasattr(stream, "__dict__") else None
        if inner is None:
            return stream
        stream = inner
    return stream


def progress_bar(iterable: Iterable | None = None, *, desc: str | None = None, total: float | None = None,
                 unit: str = "it", leave: bool = True, disable: bool = False, mininterval: float = 0.1,
                 file: IO | None = None, **kwargs) -> tqdm:
    """A plain-text tqdm bar (``tqdm.std.tqdm``) over ``iterable``, or of ``total`` steps updated by hand.

    ``file`` defaults to ``sys.stdout`` inside a Jupyter kernel (:func:`in_kernel`) and to
    ``sys.stderr`` elsewhere. Inside a kernel ``mininterval`` (seconds between redraws) is
    raised to at least :data:`NOTEBOOK_MININTERVAL`. Other keyword arguments go to tqdm as they
    are (``postfix``, ``miniters``, ``position``, ...). The bar is a tqdm: iterate over it, or
    call ``update``, ``set_postfix_str`` and ``close`` (or use it in a ``with``).
    """
    kernel = in_kernel()
    if file is None:
        file = sys.stdout if kernel else sys.stderr
    if kernel:
        mininterval = max(mininterval, NOTEBOOK_MININTERVAL)
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=disable,
                mininterval=mininterval, file=file, **kwargs)


def _import_tqdm_auto_quietly() -> None:
    """``import tqdm.auto`` without its "IProgress not found" TqdmWarning, inside a Jupyter kernel
    (the condition under which tqdm looks for ipywidgets) before anything else imports it."""
    if "ipykernel.zmqshell" in sys.modules and "tqdm.autonotebook" not in sys.modules:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="IProgress not found")
            import tqdm.auto  # noqa: F401  (deferred: only a kernel needs it, and only for this)


_import_tqdm_auto_quietly()
