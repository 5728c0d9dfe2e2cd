"""The static page in headless Chromium (Debian's, driven by Playwright): its engine's epochs a
second on the Playground's default problem against the JavaScript contender written after the
Playground's ``src/nn.ts``, both in one worker of the same browser, in interleaved rounds
(``browser_worker.js``); and the frames a second the page itself draws while it trains, on that
problem and on 8 × 64 units over 10,000 training points. The page is served from a folder by a
plain static file server, as the documentation site serves it.

>>> BROWSER_WORKER.exists()
True
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nnkit.bench.playground import PLAYGROUND_RUN
from nnkit.playground.settings import settings_of

BROWSER_WORKER = Path(__file__).with_name("browser_worker.js")
PLAYGROUND_JS = Path(__file__).with_name("playground.js")


PLAYGROUND = settings_of([o for o in PLAYGROUND_RUN if not o.startswith("trainer.")])
PLAYGROUND["model.features"] = ["x1", "x2"]  # its two inputs as they are
LARGE = {**PLAYGROUND, "data.n": 12_500, "data.train_fraction": 0.8, "model.hidden": [64] * 8}
BENCH_PAGE = """<!doctype html><meta charset="utf-8"><title>nnkit browser bench</title>
<script>
window.measure = (options) => new Promise((done) => {
  const worker = new Worker("browser_worker.js");
  worker.onmessage = (event) => done(event.data);
  worker.postMessage(options);
});
</script>"""
COUNT_FRAMES = """(seconds) => new Promise((done) => {
  let changed = false, frames = 0, counting = true;
  const watch = new MutationObserver(() => { changed = true; });
  watch.observe(document.querySelector("#epoch"), { childList: true, characterData: true,
                                                    subtree: true });
  const paint = () => {  // a frame: a painting of the page with a new training frame in it
    if (changed) { frames++; changed = false; }
    if (counting) requestAnimationFrame(paint);
  };
  requestAnimationFrame(paint);
  const stop = () => { counting = false; watch.disconnect(); done(frames / seconds); };
  setTimeout(stop, seconds * 1000);
})"""


def chromium_unavailable_reason() -> str | None:
    """Why the browser bench cannot run here, or None."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "no Debian chromium (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "no playwright (pip install playwright; it drives Debian's chromium)"
    return None


@contextmanager
def served_page() -> Iterator[str]:
    """The static page and the bench's worker in a folder, served on 127.0.0.1."""
    from nnkit.playground.static_page import write_page

    with tempfile.TemporaryDirectory() as folder:
        write_page(Path(folder))
        for script in (BROWSER_WORKER, PLAYGROUND_JS):
            shutil.copyfile(script, Path(folder) / script.name)
        (Path(folder) / "bench.html").write_text(BENCH_PAGE)
        server = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
             "--directory", folder],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            port = re.search(r"port (\d+)", server.stdout.readline())
            assert port is not None, "http.server printed no port"
            yield f"http://127.0.0.1:{port[1]}"
        finally:
            server.kill()


def page_address(served: str, settings: dict[str, Any]) -> str:
    """The static page set to ``settings`` (its URL holds them, as the page writes them)."""
    state = "&".join(f"{key}={quote(json.dumps(value))}" for key, value in settings.items())
    return f"{served}/index.html#{state}"


def measure_browser(seconds: float = 1.0, rounds: int = 3) -> dict[str, dict[str, float]]:
    """The page's engine against the Playground's way in Chromium, and the page's frames a
    second while it plays; empty where Chromium cannot run here."""
    if chromium_unavailable_reason() is not None:
        return {}
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with served_page() as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            bench = browser.new_page()
            bench.goto(f"{served}/bench.html")
            options = {"settings": PLAYGROUND, "widths": [2, 4, 2, 1], "batch": 10,
                       "lr": 0.03, "ms": 1000 * seconds, "rounds": rounds}  # fmt: skip
            rates = bench.evaluate("(options) => window.measure(options)", options)
            frames = {name: _frames(browser, page_address(served, settings), seconds * 3)
                      for name, settings in (("default", PLAYGROUND), ("8x64", LARGE))}  # fmt: skip
        finally:
            browser.close()
    return {"Playground problem 2-4-2-1 tanh, in headless Chromium": {
        "nnkit static page (chromium) epochs/s": rates["page"],
        "playground (chromium) epochs/s": rates["playground"],
        "nnkit static page / playground": rates["page"] / rates["playground"],
        "static page frames/s, playing the Playground problem": frames["default"],
        "static page frames/s, playing 8 x 64 on 10,000 points": frames["8x64"],
    }}  # fmt: skip


def _frames(browser: Any, address: str, seconds: float) -> float:
    """Frames a second the page draws while it trains (after a start as long)."""
    tab = browser.new_page()
    try:
        tab.goto(address)
        tab.wait_for_selector("#network canvas.unit")
        tab.click("#play")
        tab.wait_for_timeout(1000 * min(1.0, seconds))
        return float(tab.evaluate(COUNT_FRAMES, seconds))
    finally:
        tab.close()
