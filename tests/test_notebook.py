"""``from nnkit.playground import Playground`` in a real JupyterLab, driven by headless Chromium:
the widget appears inline, plays (the kernel's own session, no server of nnkit's), and the
next cell reads the network the learner just trained."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.test_playground import CHROMIUM, ROOT, _free_port

pytest.importorskip("anywidget")
pytest.importorskip("jupyterlab")
TOKEN = "notebook-test-token"
CELLS = [
    "from nnkit.playground import Playground\n"
    'pg = Playground("data=circular", "data.n=200", "model.hidden=[4,2]")\npg',
    'print("trained", pg.metrics["epoch"], "epochs; first weight",'
    " float(pg.net.network_params()[0][0, 0].detach()))",
]


KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _notebook(cells: list[str]) -> dict:
    code = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    return {
        "cells": [{**code, "source": source} for source in cells],
        "metadata": {"kernelspec": KERNEL},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[str]:
    """A JupyterLab of its own (settings, workspaces and runtime files in a temporary folder),
    serving a notebook that makes a Playground; its URL."""
    folder, port = tmp_path_factory.mktemp("lab"), _free_port()
    (folder / "widget.ipynb").write_text(json.dumps(_notebook(CELLS)))
    state = folder / ".state"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_CONFIG_DIR": str(state / "config"),
           "JUPYTER_RUNTIME_DIR": str(state / "runtime")}  # fmt: skip
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={folder}", f"--LabApp.user_settings_dir={state / 'settings'}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}", "--LabApp.news_url=", "--allow-root",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=30)


def _run_cell(page, index: int) -> None:
    """Run a cell as a learner does (click it, Shift+Enter), until its prompt shows it queued or
    ran: on a busy machine the first key can land before the editor has the focus."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt").first
    for _ in range(10):
        cell.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if re.search(r"\[[\d*]+\]", prompt.inner_text()):
                return
            page.wait_for_timeout(100)
    raise AssertionError(f"cell {index} never ran: its prompt is {prompt.inner_text()!r}")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_widget_plays_inline_and_the_next_cell_reads_the_trained_network(lab):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{lab}/lab/tree/widget.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=90_000)  # fmt: skip
        _run_cell(page, 0)
        widget = page.frame_locator("iframe.nnkit-playground")
        try:
            widget.locator("#network canvas.unit").first.wait_for(state="attached", timeout=90_000)
        except playwright.Error:
            shown = page.locator(".jp-Cell").first.locator(".jp-OutputArea").inner_text()
            raise AssertionError(f"no widget; the cell shows {shown!r}") from None
        assert widget.locator("#network canvas.unit").count() == 2 + 4 + 2 + 1
        widget.locator("#play").dispatch_event("click")  # the lab's windowing hides it from
        # Playwright's visibility check, not from the learner
        page.wait_for_timeout(3000)
        played = int(widget.locator("#epoch").inner_text())
        assert played > 5
        _run_cell(page, 1)
        outputs = page.locator(".jp-Cell").nth(1)
        printed = outputs.locator("[data-mime-type='application/vnd.jupyter.stdout']")
        printed.wait_for(timeout=60_000)
        found = re.search(r"trained (\d+) epochs; first weight (\S+)", printed.inner_text())
        warned = outputs.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        stderr = warned.inner_text() if warned.count() else ""
        chromium.close()
    assert found is not None and int(found.group(1)) >= played
    assert not errors and not stderr, (errors, stderr)
