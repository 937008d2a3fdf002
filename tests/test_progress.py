"""fernb.progress: one plain-text bar, on stdout inside a Jupyter kernel and on stderr elsewhere."""
from __future__ import annotations

import ast
import sys

import pytest

from fernb import progress
from fernb.progress import NOTEBOOK_MININTERVAL, in_kernel, progress_bar

from conftest import REPO

iostream = pytest.importorskip("ipykernel.iostream")


class KernelStream(iostream.OutStream):
    """ipykernel's own stream type with no kernel behind it: it keeps what it is given."""

    def __init__(self, name: str) -> None:   # OutStream's needs a session and a publishing thread
        self.name, self.parts = name, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return "".join(self.parts)


def test_in_a_terminal_the_bar_is_tqdm_on_stderr(capsys):
    assert not in_kernel()
    bar = progress_bar(range(3), desc="terminal bar", unit="img")
    assert list(bar) == [0, 1, 2]
    out, err = capsys.readouterr()
    assert out == "" and "terminal bar" in err and "3/3" in err
    assert bar.mininterval == 0.1                                 # tqdm's own default


def test_inside_a_kernel_the_bar_is_text_on_stdout_and_redraws_rarely(monkeypatch):
    stdout, stderr = KernelStream("stdout"), KernelStream("stderr")
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    assert in_kernel()
    bar = progress_bar(total=4, desc="kernel bar", mininterval=1.0)
    for _ in range(4):
        bar.update(1)
    bar.set_postfix_str("done")
    bar.close()
    assert stderr.text == ""                                      # nothing a notebook would show as a warning box
    assert "kernel bar" in stdout.text and "4/4" in stdout.text and "done" in stdout.text
    assert bar.mininterval == NOTEBOOK_MININTERVAL                # raised from the terminal's 1 s
    assert "\x1b[" not in stdout.text                             # plain text: no terminal control codes
    slower = progress_bar(total=1, mininterval=2 * NOTEBOOK_MININTERVAL)   # a longer interval is kept
    slower.close()
    assert slower.mininterval == 2 * NOTEBOOK_MININTERVAL


def test_a_kernel_stream_under_colorama_is_still_a_kernel(monkeypatch):
    """dvc's logger calls colorama.init(), which wraps sys.stdout and sys.stderr: in notebooks 01/02
    (dvclive) the bar must still go to the kernel's stdout."""
    ansitowin32 = pytest.importorskip("colorama.ansitowin32")
    stdout, stderr = KernelStream("stdout"), KernelStream("stderr")
    monkeypatch.setattr(sys, "stdout", ansitowin32.AnsiToWin32(stdout, strip=True).stream)
    monkeypatch.setattr(sys, "stderr", ansitowin32.AnsiToWin32(stderr, strip=True).stream)
    assert type(sys.stderr).__name__ == "StreamWrapper" and in_kernel()
    progress_bar(range(2), desc="wrapped bar").close()
    assert "wrapped bar" in stdout.text and stderr.text == ""


def test_the_shell_of_a_kernel_is_a_kernel(monkeypatch):
    """Whatever wraps the streams, IPython's running shell says it is a kernel's (it has a ``kernel``)."""
    import io
    from types import SimpleNamespace

    ipython = pytest.importorskip("IPython")
    monkeypatch.setattr(ipython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert in_kernel() and not in_kernel(sys.stderr)           # the stream alone is no kernel's
    progress_bar(range(2), desc="shell bar").close()
    assert "shell bar" in sys.stdout.getvalue() and sys.stderr.getvalue() == ""
    monkeypatch.setattr(ipython, "get_ipython", lambda: SimpleNamespace())   # a terminal IPython shell
    assert not in_kernel()


def test_an_explicit_file_wins(monkeypatch):
    monkeypatch.setattr(sys, "stderr", KernelStream("stderr"))
    mine = KernelStream("mine")
    progress_bar(range(2), desc="to my file", file=mine).close()
    assert "to my file" in mine.text and sys.stderr.text == ""


def test_a_stream_of_another_type_is_no_kernel(monkeypatch):
    assert not in_kernel(sys.__stderr__)
    monkeypatch.delitem(sys.modules, "ipykernel.iostream")       # a process that never loaded ipykernel
    assert not in_kernel(KernelStream("stderr"))


def test_every_progress_bar_in_fernb_is_progress_bar():
    """tqdm is imported in fernb/progress.py only (tqdm.auto nowhere): every other bar goes through it."""
    offenders = []
    for path in sorted((REPO / "fernb").rglob("*.py")):
        if path == REPO / "fernb" / "progress.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(REPO)}:{node.lineno}" for n in names if n.split(".")[0] == "tqdm"]
    assert offenders == [], f"import fernb.progress.progress_bar instead of tqdm: {offenders}"
    assert progress.__all__ == ["NOTEBOOK_MININTERVAL", "in_kernel", "progress_bar"]


def test_inside_a_kernel_other_libraries_import_tqdm_auto_without_a_warning():
    """timm imports tqdm.auto (through huggingface_hub); in a kernel without ipywidgets the first such
    import warns "IProgress not found". fernb.progress makes that import first, quietly."""
    import subprocess

    code = ("import warnings, ipykernel.zmqshell\n"   # what tqdm takes for a Jupyter kernel
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    import fernb.progress, tqdm.auto\n"
            "print([str(w.message) for w in caught if 'IProgress' in str(w.message)])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
