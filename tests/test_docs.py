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
def browser(served):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium.new_page()
        finally:
            chromium.close()


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
