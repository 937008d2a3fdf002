"""The reader's site in a real browser: Debian's headless Chromium, driven by Playwright,
over a built ``site/`` (:func:`fernb.workbook.site.build_site`) served on localhost.

:func:`check_site` loads every page and returns what a reader would meet: console errors, requests
that left localhost (none may: the site is offline), internal links that resolve to no file, whether
each notebook page opens with its code folded and unfolds on a click, whether the ledger's search
narrows its table of checks, and screenshots. ``tests/workbook/test_site.py`` asserts on it; ``fernb
site --check`` prints it. Chromium is never downloaded: :data:`CHROMIUM` is the Debian package's
binary (``apt-get install chromium``, which ``.ci/run`` does), and Playwright only drives it.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "chromium_missing", "serve", "check_site"]

CHROMIUM = Path(os.environ.get("FERNB_CHROMIUM", "/usr/bin/chromium"))
# the flags a closed network needs (no background connections, no component updates) and root needs
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_missing() -> str | None:
    """Why the browser check cannot run here (no Chromium binary, no Playwright), or None."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not found (Debian: apt-get install chromium; or set FERNB_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make installs the dev extra)"
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(directory: str | os.PathLike):
    """``directory`` served on a free localhost port for the ``with`` block; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _local_target(site: Path, base: str, page_url: str, href: str) -> Path | None:
    """The file an internal link points to (None for an external, mail or in-page link)."""
    if not href or href.startswith(("#", "mailto:", "javascript:", "data:")):
        return None
    url = urljoin(page_url, href)
    if not url.startswith(base):
        return None
    path = unquote(urlparse(url).path)[len(urlparse(base).path):]
    target = site / path
    return target / "index.html" if path.endswith("/") or target.is_dir() else target


def _fold_state(page) -> dict:
    """The notebook page's code toggles on load, and after a click on the first one."""
    folded = page.evaluate("""() => {
        const all = [...document.querySelectorAll('details.hide')];
        return {toggles: all.length, open: all.filter(d => d.open).length};
    }""")
    if folded["toggles"]:
        page.locator("details.hide > summary").first.click()
        folded["opened_by_click"] = bool(page.evaluate("() => document.querySelector('details.hide').open"))
    return folded


def _ledger_filter(page) -> dict:
    """Rows of the ledger's table of checks before and after typing a verdict into its search box."""
    page.wait_for_selector("#checks_wrapper input[type=search]", timeout=20_000)
    before = page.locator("#checks_wrapper .dt-info").inner_text()
    page.locator("#checks_wrapper input[type=search]").fill("inconsistent")
    page.wait_for_timeout(500)
    after = page.locator("#checks_wrapper .dt-info").inner_text()
    return {"before": before, "after": after}


def check_site(site: str | os.PathLike, screenshots: str | os.PathLike | None = None,
               pages: list[str] | None = None) -> dict:
    """Load every HTML page of ``site`` (or ``pages``, paths relative to it) in headless Chromium.

    Returns ``pages`` (visited), ``console_errors`` and ``external_requests`` (``page: message``),
    ``broken_links`` (``page -> href``), ``folding`` (per notebook page: toggles, how many were open
    on load, whether a click opened one), ``ledger_filter`` (the table's info line before / after a
    search) and, with ``screenshots`` (a folder), ``front.png`` and ``notebook.png`` written there."""
    from playwright.sync_api import sync_playwright

    site = Path(site).resolve()
    pages = pages or sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                            if not p.relative_to(site).parts[0].startswith(("_", ".")))
    report = {"pages": [], "console_errors": [], "external_requests": [], "broken_links": [], "folding": {},
              "ledger_filter": None}
    with serve(site) as base, sync_playwright() as play:
        browser = play.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        current = {"name": ""}
        page.on("console", lambda m: report["console_errors"].append(f"{current['name']}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: report["console_errors"].append(f"{current['name']}: {e}"))

        def route(r):
            if r.request.url.startswith((base, "data:", "blob:")):
                return r.continue_()
            report["external_requests"].append(f"{current['name']}: {r.request.url}")
            return r.abort()

        page.route("**/*", route)
        for name in pages:
            current["name"] = name
            page.goto(base + name, wait_until="load")
            report["pages"].append(name)
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
                target = _local_target(site, base, page.url, href)
                if target is not None and not target.is_file():
                    report["broken_links"].append(f"{name} -> {href}")
            if name.startswith("notebooks/") and page.locator("div.cell").count():   # a rendered notebook
                report["folding"][name] = _fold_state(page)
                if screenshots and "notebook.png" not in os.listdir(screenshots):
                    page.reload(wait_until="load")
                    page.screenshot(path=str(Path(screenshots) / "notebook.png"))
            if name == "ledger.html":
                report["ledger_filter"] = _ledger_filter(page)
            if name == "index.html" and screenshots:
                page.screenshot(path=str(Path(screenshots) / "front.png"))
        browser.close()
    return report
