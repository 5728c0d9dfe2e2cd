"""The documentation site, built and read the way a reader reads it: ``mkdocs build --strict``
(the tutorial notebook executed by the build), the configuration reference against the
schema, and a few pages opened in headless Chromium (Debian's, never a downloaded one)."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


BUILT_SITE = "NNKIT_DOCS_SITE"  # a site `mkdocs build --strict` has just built from this tree


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site as ``mkdocs build --strict`` builds it: the one CI has just built (its folder
    in NNKIT_DOCS_SITE), else built here."""
    if prebuilt := os.environ.get(BUILT_SITE):
        assert (Path(prebuilt) / "index.html").is_file(), f"{BUILT_SITE}={prebuilt}: no site"
        return Path(prebuilt)
    folder = tmp_path_factory.mktemp("site")
    quiet = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    build = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--site-dir",
         str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, **quiet},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-4000:]
    return folder


def leaf_keys(node, prefix: str = "") -> set[str]:
    keys = set()
    for key in node:
        value = node[key]
        path = f"{prefix}{key}"
        keys |= leaf_keys(value, f"{path}.") if OmegaConf.is_dict(value) else {path}
    return keys


def test_the_configuration_reference_lists_every_key_of_the_schema(site):
    from nnkit.config.schema import NNKitConfig

    page = (site / "reference" / "config" / "index.html").read_text()
    schema_table = page[page.index('id="the-schema"') : page.index('id="model"')]
    listed = set(re.findall(r"<tr>\s*<td><code>([\w.]+)</code></td>", schema_table))
    assert listed == leaf_keys(OmegaConf.structured(NNKitConfig))


def test_the_front_page_links_resolve():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert len(targets) >= 10
    missing = [t for t in targets if not t.startswith("http") and not (REPO / t).exists()]
    assert not missing


@pytest.fixture(scope="module")
def served(site) -> Iterator[str]:
    """The built site over HTTP on 127.0.0.1 (the search index loads in a worker, which a
    file:// page cannot start)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def chromium():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser(chromium, served):
    return chromium.new_page()


def test_the_tutorial_shows_its_figures_and_outputs(browser, served):
    browser.goto(f"{served}/tutorial/article/")
    sizes = browser.eval_on_selector_all(
        "article img", "images => images.map(i => [i.complete, i.naturalWidth])"
    )
    assert len(sizes) >= 5 and all(done and width > 100 for done, width in sizes), sizes
    text = browser.inner_text("article")
    assert "3.25" in text and "0.9985" in text  # the worked example's numbers
    assert "Try this" in text and "gradient norms from the first layer" in text


def test_the_search_finds_the_straight_through_estimator(browser, served):
    browser.goto(f"{served}/")
    browser.click("label.md-search__icon, .md-search__input")
    browser.focus("input.md-search__input")
    browser.keyboard.type("straight-through", delay=30)  # as a reader types it
    # the index is built in a web worker after the page loads: slow on a busy machine
    browser.wait_for_selector(".md-search-result__item", timeout=180_000)
    results = browser.inner_text(".md-search-result")
    assert "straight" in results.lower()


def test_the_reference_page_of_relu_shows_its_contract(browser, served):
    browser.goto(f"{served}/reference/activation/relu/")
    text = browser.inner_text("article")
    assert "Gradient contract" in text and "piecewise" in text and "kinks [0.0]" in text
    assert "python -m nnkit.gradcheck relu" in text


@pytest.fixture(scope="module")
def static_served(site) -> Iterator[str]:
    """The built site from a plain static file server in a process of its own (Python's
    ``http.server``: no nnkit process serves anything to the playground page)."""
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
         str(site)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = re.search(r"port (\d+)", server.stdout.readline())
        assert port, "http.server printed no port"
        yield f"http://127.0.0.1:{port[1]}"
    finally:
        server.kill()


@pytest.fixture
def static_page(chromium, static_served):
    """A Chromium tab for the static playground, its page errors and WebSockets recorded."""
    tab = chromium.new_page()
    tab.errors, tab.sockets = [], []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.on("websocket", lambda socket: tab.sockets.append(socket.url))
    yield tab
    tab.close()


def _epoch(tab) -> int:
    return int(tab.text_content("#epoch") or 0)


def test_the_static_playground_trains_in_the_browser_with_no_server(static_page, static_served):
    tab = static_page
    tab.goto(f"{static_served}/playground/index.html#data=%22circular%22")
    tab.wait_for_function("document.querySelector('#test-loss').textContent !== '–'")
    first_loss = tab.text_content("#test-loss")
    tab.click("#play")
    tab.wait_for_function("Number(document.querySelector('#epoch').textContent) > 20")
    tab.click("#play")
    assert tab.text_content("#test-loss") != first_loss
    assert "WebAssembly" in tab.text_content("#engine")
    tab.click("#proof summary")
    assert "compiled to WebAssembly" in tab.inner_text("#proof-rows")
    assert not tab.errors and not tab.sockets, (tab.errors, tab.sockets)


def test_every_control_of_the_static_page_turns_without_a_page_error(static_page, static_served):
    tab = static_page
    tab.goto(f"{static_served}/playground/index.html")
    tab.wait_for_selector("#network canvas.unit")
    turns = [
        ("#data", value)
        for value in ("xor", "spiral", "plane", "bump", "seven_segment", "gaussians", "circular")
    ]
    turns += [("#activation", "tanh"), ("#regularization", "l2"), ("#rate", "0.01"),
              ("#optimizer", "sgd"), ("#init", "xavier_uniform"), ("#norm", "layer"),
              ("#dropout", "0.1"), ("#loss", "mse"), ("#replicas", "4"),
              ("#scheduler", "cosine"), ("#lr", "0.1")]  # fmt: skip
    for selector, value in turns:
        tab.select_option(selector, value)
        tab.wait_for_timeout(150)
        assert tab.is_hidden("#error"), (selector, value, tab.text_content("#error"))
    tab.click("#play")
    tab.wait_for_function("/solved \\d+\\/4/.test(document.querySelector('#solved').textContent)")
    for control in ("#add-layer", "#remove-layer", "#add-layer", "#regenerate", "#step", "#reset"):
        tab.click(control)
        tab.wait_for_timeout(150)
    tab.click("#network .width-buttons button[data-change='1']")
    tab.select_option("#network select.layer-activation", "sigmoid")
    tab.check("#features input[value='x1_sq']")
    tab.check("#residual")
    for slider, value in (("#noise", "0.2"), ("#ratio", "0.5"), ("#batch", "20")):
        tab.fill(slider, value)
        tab.dispatch_event(slider, "change")
    tab.select_option("#data", "gaussians")
    tab.wait_for_selector("#classes-control:not([hidden])")
    tab.fill("#classes", "3")
    tab.dispatch_event("#classes", "change")
    tab.wait_for_timeout(300)
    assert tab.is_hidden("#error"), tab.text_content("#error")
    tab.click("#step")
    tab.click("#export")
    tab.wait_for_selector("#export-files a[download]")
    assert "python -m nnkit.train data=gaussians" in tab.text_content("#export-command")
    tab.select_option("#data", "csv")  # files need Python: one line says which command
    assert "python -m nnkit.playground" in tab.text_content("#error")
    assert not tab.errors and not tab.sockets, (tab.errors, tab.sockets)


def test_the_static_page_explains_the_article_s_example(static_page, static_served):
    static_page.goto(f"{static_served}/playground/index.html?example=article")
    static_page.wait_for_selector("#explain-panel:not([hidden])")
    table = static_page.inner_text("#explain-table")
    assert "3.25" in table and "-0.3" in table
    assert "0.9985" in static_page.inner_text("#explain-summary")
    assert not static_page.errors


def test_a_tutorial_chapter_plays_its_embedded_playground(static_page, static_served):
    static_page.goto(f"{static_served}/tutorial/article/")
    frames = static_page.locator("iframe.nnkit-live")
    assert frames.count() >= 7
    frames.nth(0).scroll_into_view_if_needed()  # the worked example's: lazy until seen
    embedded = static_page.frame_locator("iframe.nnkit-live").nth(0)
    embedded.locator("#explain-panel:not([hidden])").wait_for()
    assert "0.9985" in embedded.locator("#explain-summary").inner_text()
    assert embedded.locator("#data-panel").is_hidden()  # ?hide= trimmed the controls
    embedded.locator("#play").click()
    (played,) = [f for f in static_page.frames if "example=article" in f.url]
    played.wait_for_function("Number(document.querySelector('#epoch').textContent) > 0")
    frames.nth(2).scroll_into_view_if_needed()  # the circle's chapter: its own settings
    circle = static_page.frame_locator("iframe.nnkit-live").nth(2)
    circle.locator("#network canvas.unit").first.wait_for()
    assert (
        circle.locator("#layer-count").inner_text() == "1" and circle.locator("#error").is_hidden()
    )
    assert circle.locator("#data").input_value() == "circular"
    assert not static_page.errors and not static_page.sockets
