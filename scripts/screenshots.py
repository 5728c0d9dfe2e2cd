"""Regenerate the README's pictures: the playground after a few seconds of play, the article's
network drawn by ``nnkit.draw``, a run's figures, and TensorBoard's main tabs, captured in
headless Chromium (Debian's ``chromium``; the playground through Playwright).

    python scripts/screenshots.py            # writes docs/images/*.png (about a minute)

It trains a small run on the circle into a temporary folder, serves it with ``tensorboard`` on
127.0.0.1, and takes one screenshot per tab.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
TABS = {  # file name: TensorBoard's tab
    "tensorboard-scalars": "custom_scalars",
    "tensorboard-images": "images",
    "tensorboard-text": "text",
}


def nnkit(*args: str) -> None:
    subprocess.run([sys.executable, "-m", *args], check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(logdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host",
         "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/data/plugins_listing", timeout=5).read()
            return server, url
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("tensorboard did not start")


def screenshot(browser: str, url: str, out: Path) -> None:
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1400,900", "--virtual-time-budget=15000", f"--screenshot={out}", url],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def playground(browser: str, out: Path) -> None:
    """The playground on the circle, 2-4-2-1 tanh, played for a few seconds; and the article's
    worked example explained (``out``'s name with ``-article``)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "nnkit.playground", "open=false", f"port={port}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None and "playground" in server.stdout.readline()
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=browser)
            page = chromium.new_page(viewport={"width": 1280, "height": 660})
            page.goto(f"http://127.0.0.1:{port}/#data=%22circular%22&model.hidden=%5B4%2C2%5D"
                      "&model.activation=%22tanh%22&optimizer.lr=0.03")  # fmt: skip
            page.wait_for_selector("#network canvas.unit")
            page.click("#show-test")
            page.click("#play")
            page.wait_for_function("Number(document.getElementById('epoch').textContent) > 400")
            page.click("#play")
            page.wait_for_timeout(300)
            page.screenshot(path=str(out))
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/?example=article")
            page.wait_for_selector("#explain-panel:not([hidden])")
            page.wait_for_timeout(300)
            page.screenshot(path=str(out.with_name(f"{out.stem}-article.png")))
            chromium.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("needs Debian's chromium: apt-get install chromium", file=sys.stderr)
        return 2
    IMAGES.mkdir(parents=True, exist_ok=True)
    playground(browser, IMAGES / "playground.png")
    nnkit("nnkit.draw", "example=article", "input=[1,0.5]", "target=[1]",
          f"out={IMAGES / 'article-network.png'}")  # fmt: skip
    (IMAGES / "article-network.svg").unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        nnkit("nnkit.train", "data=circular", "model.hidden=[8]", "trainer.max_epochs=60",
              "trainer.progress_bar=none", f"hydra.run.dir={run_dir}")  # fmt: skip
        server, url = serve(run_dir / "tensorboard")
        try:
            for name, tab in TABS.items():
                screenshot(browser, f"{url}/#{tab}", IMAGES / f"{name}.png")
        finally:
            server.terminate()
            server.wait(timeout=30)
    for path in sorted(IMAGES.glob("*.png")):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
