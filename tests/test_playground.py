"""``python -m nnkit.playground``: the real server in a subprocess, driven through its
WebSocket by a real client and through its page by headless Chromium (Debian's, via
Playwright's ``executable_path``; the browser tests skip with the reason where it is missing)."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from nnkit.playground.pictures import unpack
from nnkit.runs.checkpoints import load_checkpoint
from tests.helpers import cli

aiohttp = pytest.importorskip("aiohttp")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[1]
START = ["data=circular", "data.n=300", "model.hidden=[4,2]", "model.activation=tanh"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def started_in(tmp_path_factory) -> Path:
    """The folder the server is started in (where its exports go)."""
    return tmp_path_factory.mktemp("playground")


def _serve(folder: Path, *overrides: str) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "nnkit.playground", "open=false", f"port={port}", *overrides]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once the server listens
    assert f"http://127.0.0.1:{port}/" in line, process.stderr.read() if process.stderr else line
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(started_in) -> Iterator[str]:
    yield from _serve(started_in, *START)


async def _talk(url: str, messages: list[dict], seconds: float = 0.0) -> list[dict]:
    """Send ``messages`` one by one on a fresh socket, collecting every reply, then listen.

    A message ``{"await": kind}`` is not sent: it waits until a reply of that kind has come.
    """
    received: list[dict] = []
    async with aiohttp.ClientSession() as client, client.ws_connect(f"{url}/ws", origin=url) as ws:
        reader = asyncio.create_task(_read(ws, received))
        for message in messages:
            if isinstance(message, dict) and "await" in message:
                await asyncio.wait_for(_arrival(received, message["await"]), timeout=30)
                continue
            await (ws.send_str(message) if isinstance(message, str) else ws.send_json(message))
            await asyncio.sleep(0.2)
        await asyncio.sleep(seconds + 1.0)
        reader.cancel()
    return received


async def _read(ws: aiohttp.ClientWebSocketResponse, received: list[dict]) -> None:
    async for reply in ws:
        if reply.type == aiohttp.WSMsgType.TEXT:
            received.append(json.loads(reply.data))


async def _arrival(received: list[dict], kind: str) -> None:
    while not any(reply["type"] == kind for reply in received):
        await asyncio.sleep(0.01)


def talk(url: str, messages: list, seconds: float = 0.0) -> list[dict]:
    return asyncio.run(_talk(url, messages, seconds))


def test_a_session_trains_live_and_its_test_loss_falls(server):
    replies = talk(server, [{"type": "configure", "settings": {}}, {"type": "play"}], seconds=2)
    built = [r for r in replies if r["type"] == "built"]
    frames = [r for r in replies if r["type"] == "frame"]
    assert built and built[0]["widths"] == [2, 4, 2, 1] and built[0]["engine"]
    assert len(frames) >= 10  # streamed while it trains
    assert frames[-1]["epoch"] > frames[0]["epoch"] + 10
    assert frames[-1]["loss"]["test"] < frames[0]["loss"]["test"]
    assert len(unpack(frames[-1])[0]) == 3 and frames[-1]["grid"] > 0
    norms = frames[-1]["gradient_norms"]  # each layer's, from the last step
    assert len(norms) == 3 and all(n > 0 for n in norms)


def test_a_deep_sigmoid_network_shows_its_vanishing_gradient():
    from nnkit.playground.session import Session

    deep = Session(["data=circular", "data.n=200", "model.hidden=[8,8,8,8,8,8]",
                    "model.activation=sigmoid", "optimizer=sgd", "optimizer.lr=0.1"])  # fmt: skip
    deep.train_epochs(1)
    norms = deep.gradient_norms()
    assert len(norms) == 7 and norms[0] < norms[-1] / 100  # the first layer learns slowest


def test_data_that_is_not_a_plane_trains_without_pictures(server):
    line = {"data": "linear", "data.dim": 3, "model.hidden": [4]}  # three inputs: no plane
    replies = talk(server, [{"type": "configure", "settings": line}, {"type": "step"}])
    built = next(r for r in replies if r["type"] == "built")
    assert built["widths"] == [3, 4, 1] and built["points"] is None
    assert built["features"] == ["x1", "x2", "x3"]
    frames = [r for r in replies if r["type"] == "frame"]
    assert frames[-1]["epoch"] == 1 and "maps" not in frames[-1]


def test_the_learning_rate_changes_without_a_reset(server):
    replies = talk(server, [{"type": "configure", "settings": {}}, {"type": "play"},
                            {"type": "lr", "value": 0.3}], seconds=1)  # fmt: skip
    epochs = [r["epoch"] for r in replies if r["type"] == "frame"]
    assert epochs == sorted(epochs) and epochs[-1] > 0  # never back to epoch 0
    assert not [r for r in replies if r["type"] == "error"]


@pytest.mark.parametrize(
    "message, expected",
    [
        ({"type": "configure", "settings": {"optimizer.lr": -1}}, "optimizer.lr=-1"),
        ({"type": "configure", "settings": {"model.hidden": [10**9]}}, "at most 8 layers"),
        ({"type": "configure", "settings": {"model.activation": "rleu"}}, "did you mean 'relu'"),
        ({"type": "configure", "settings": {"optimiser.lr": 1}}, "unknown setting 'optimiser.lr'"),
        ("{not json", "Expecting property name"),
        ('{"type": "weight", "layer": 0, "row": 0, "column": 0, "value": NaN}', "finite, not NaN"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ({"type": "fly"}, "before 'configure'"),
    ],
)
def test_a_bad_message_is_answered_in_one_line_and_the_server_goes_on(server, message, expected):
    replies = talk(server, [message])
    errors = [r["message"] for r in replies if r["type"] == "error"]
    assert len(errors) == 1 and expected in errors[0] and "\n" not in errors[0]
    assert any(r["type"] == "built" for r in talk(server, [{"type": "configure", "settings": {}}]))


def test_a_typed_weight_is_applied_at_once(server):
    typed = {"type": "weight", "layer": 0, "row": 1, "column": 0, "value": 2.5}
    replies = talk(server, [{"type": "configure", "settings": {}}, typed])
    frames = [r for r in replies if r["type"] == "frame"]
    assert float(unpack(frames[-1])[0][0][1, 0]) == 2.5


def test_another_origin_cannot_drive_the_server(server):
    async def knock() -> int:
        async with aiohttp.ClientSession() as client:
            headers = {"Origin": "http://evil.example"}
            async with client.get(f"{server}/ws", headers=headers) as response:
                return response.status

    assert asyncio.run(knock()) == 403


def test_a_bad_override_is_refused_as_nnkit_train_refuses_it():
    done = cli("nnkit.playground", "open=false", "model.activation=rleu")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("nnkit.playground: error: ")
    assert "did you mean 'relu'" in done.stderr and "Traceback" not in done.stderr


browser = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture
def page(server):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        tab = chromium.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        yield tab
        chromium.close()
        assert not errors, errors


def _epoch(page) -> int:
    return int(page.inner_text("#epoch"))


def _open(page, url: str) -> None:
    """Load the page and wait for its network."""
    page.goto(url)
    page.wait_for_selector("#network canvas.unit")


def _explain_first_training_point(page) -> None:
    """Click the first training point on the output, and wait for its step's explanation."""
    x, y = page.evaluate("""() => {
        const [low, high] = state.built.extent, [x1, x2] = state.built.points.train.x[0];
        const box = document.getElementById("heatmap").getBoundingClientRect();
        return [box.left + (x1 - low) / (high - low) * box.width,
                box.top + (high - x2) / (high - low) * box.height];
    }""")
    page.mouse.click(x, y)
    page.wait_for_selector("#explain-panel:not([hidden])")


def _play(page, epochs: int, pause: bool = True) -> None:
    """Press play, wait past ``epochs``, and (``pause``) press pause."""
    page.click("#play")
    page.wait_for_function(f"Number(document.getElementById('epoch').textContent) > {epochs}")
    if pause:
        page.click("#play")


@browser
def test_the_page_plays_and_its_test_loss_falls(server, page):
    _open(page, server + "/")
    page.wait_for_function("document.getElementById('test-loss').textContent !== '–'")
    assert page.inner_text("#epoch") == "0"
    first_loss = float(page.inner_text("#test-loss"))  # the untrained network's
    _play(page, 300, pause=False)
    assert float(page.inner_text("#test-loss")) < first_loss
    assert page.locator("#network line.link").count() == 2 * 4 + 4 * 2 + 2 * 1


@browser
def test_layers_neurons_activation_and_lr_are_turned_on_the_page(server, page):
    _open(page, server + "/")
    page.click("#add-layer")
    page.wait_for_function("document.getElementById('layer-count').textContent === '3'")
    page.click("#network .width-buttons button[data-layer='0'][data-change='1']")
    page.wait_for_function("location.hash.includes('model.hidden=%5B5%2C2%2C2%5D')")
    page.select_option("#activation", "step")
    page.wait_for_function("location.hash.includes('step')")
    page.select_option("#init", "small_random")
    page.wait_for_function("location.hash.includes('model.init=%22small_random%22')")
    assert page.input_value("#init") == "small_random"
    page.select_option("#scheduler", "exponential")  # the rate times 0.95 every epoch
    page.wait_for_function("location.hash.includes('scheduler=%22exponential%22')")
    _play(page, 20, pause=False)
    base = float(page.input_value("#lr"))
    page.wait_for_function(f"Number(document.getElementById('rate-now').textContent) < {base}")
    before = _epoch(page)
    page.select_option("#lr", "0.1")  # while playing: no reset
    page.wait_for_timeout(500)
    assert _epoch(page) > before
    assert "optimizer.lr=0.1" in page.url
    page.click("#as-code")  # the run as plain PyTorch: python -m nnkit.script of its settings
    page.wait_for_selector("#error:not([hidden])")  # torch has no layer for the step
    assert "model.activation='step' has no torch layer" in page.inner_text("#error")
    page.select_option("#activation", "tanh")
    page.wait_for_function("state.built.settings['model.activation'] === 'tanh'")
    page.click("#as-code")
    page.wait_for_selector("#script-panel:not([hidden])")
    script = page.inner_text("#script-text")
    assert "nn.Linear(2, 5)" in script and "lr_scheduler.ExponentialLR" in script
    assert "import nnkit" not in script and page.get_attribute("#script-download", "href")


@browser
def test_a_link_reproduces_the_page_and_a_bad_value_is_refused_in_it(server, page):
    _open(page, server + "/#data=%22xor%22&model.hidden=%5B3%5D&regularization.kind=%22l2%22")
    assert page.input_value("#data") == "xor"
    assert page.input_value("#regularization") == "l2"
    assert page.locator("#network canvas.unit").count() == 2 + 3 + 1
    page.reload()
    page.wait_for_selector("#network canvas.unit")
    assert page.input_value("#data") == "xor" and page.locator("#network canvas.unit").count() == 6
    page.goto(server + "/#optimizer.lr=-1")
    page.reload()
    page.wait_for_selector("#error:not([hidden])")
    assert "optimizer.lr=-1" in page.inner_text("#error")
    page.wait_for_selector("#network canvas.unit")  # the defaults, under the line
    assert page.input_value("#lr") != "-1" and page.locator("#activation option").count() > 3
    assert "optimizer.lr=-1" in page.inner_text("#error")


@browser
def test_normalization_dropout_and_residual_are_turned_and_explained_on_the_page(server, page):
    _open(page, server + "/")
    page.click("#add-layer")  # 2-4-2-2-1: the third hidden layer is as wide as its input
    page.wait_for_function("document.getElementById('layer-count').textContent === '3'")
    page.select_option("#norm", "batch")
    page.wait_for_function("location.hash.includes('model.norm=%22batch%22')")
    page.select_option("#network select.layer-norm[data-layer='0']", "layer")
    page.wait_for_function("location.hash.includes('model.norm=%5B%22layer%22%2C%22batch%22')")
    page.select_option("#dropout", "0.2")
    page.wait_for_function("location.hash.includes('model.dropout=0.2')")
    page.check("#residual")
    page.wait_for_function("state.built.settings['model.residual'] === true")
    assert page.evaluate("state.built.settings['model.norm']") == ["layer", "batch", "batch"]
    _play(page, 5)
    _explain_first_training_point(page)
    header = page.inner_text("#explain-table tr:first-child")
    assert all(title in header for title in ("normalized", "dropout mask", "passed on"))
    assert page.locator("#explain-table tr.norm").count() == 3  # each normalized layer's stats
    masks = page.evaluate(
        "state.explained.layers.slice(0, 3).flatMap((l) => l.units.map((u) => u.mask))"
    )
    assert set(masks) <= {0, 1.25} and len(masks) == 4 + 2 + 2  # dropped, or kept ×1/(1-0.2)
    page.fill("#batch", "1")  # a range input: its value, then its change event
    page.dispatch_event("#batch", "change")
    page.wait_for_selector("#error:not([hidden])")
    assert "batch normalization (model.norm=batch) needs two rows" in page.inner_text("#error")


@browser
def test_the_articles_worked_example_opens_explained(server, page):
    page.goto(server + "/?example=article")
    page.wait_for_selector("#explain-panel:not([hidden])")
    on_network = page.locator("#network .value").all_inner_texts()
    assert on_network == ["3.25 → 3.25", "-0.3 → 0", "6.5 → 0.9985"]
    assert "answer 0.9985" in page.inner_text("#explain-summary")
    assert page.locator("#explain-table tr").count() == 1 + 3


@browser
def test_clicking_a_point_explains_its_step(server, page):
    _open(page, server + "/")
    _explain_first_training_point(page)
    assert page.locator("#explain-table tr").count() == 1 + 4 + 2 + 1
    assert "largest difference from torch autograd" in page.inner_text("#explain-summary")


@browser
def test_an_export_is_replayed_by_nnkit_train_bit_for_bit(server, started_in, page, tmp_path):
    _open(page, server + "/")
    for epochs in (1, 2, 3):
        page.click("#step")
        page.wait_for_function(f"document.getElementById('epoch').textContent === '{epochs}'")
    page.click("#export")
    page.wait_for_selector("#export-panel:not([hidden])")
    line = shlex.split(page.inner_text("#export-command"))
    assert line[:3] == ["python", "-m", "nnkit.train"] and "trainer.max_epochs=3" in line
    assert "bit for bit" in page.inner_text("#export-note")
    done = cli("nnkit.train", *line[3:], f"hydra.run.dir={tmp_path}", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (exported,) = (started_in / "playground-exports").glob("*epoch3-*/checkpoints/last.ckpt")
    ours, theirs = (
        load_checkpoint(p)["state_dict"] for p in (exported, tmp_path / "checkpoints" / "last.ckpt")
    )
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    link = page.locator("#export-files a", has_text="last.ckpt")
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == exported.read_bytes()


@browser
def test_k_gaussians_are_drawn_one_colour_each_with_per_layer_activations(server, page):
    _open(page, server + "/#data=%22gaussians%22&data.classes=4")
    assert page.locator("#network canvas.unit").count() == 2 + 4 + 2 + 4
    page.select_option("#network select.layer-activation[data-layer='1']", "relu")
    page.wait_for_function(
        "location.hash.includes('model.activation=%5B%22tanh%22%2C%22relu%22%5D')"
    )
    _play(page, 30, pause=False)
    colours = page.evaluate("""() => {
        const ctx = document.getElementById("heatmap").getContext("2d"), seen = new Set();
        for (const [x, y] of [[60, 60], [240, 60], [60, 240], [240, 240]]) {
            seen.add(Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)).join(","));
        }
        return seen.size;
    }""")
    assert colours >= 3  # the four blobs' corners in their own classes' colours


def test_data_that_is_not_a_plane_shows_its_input_flowing_and_its_confusion(server):
    digit = {"data": "seven_segment", "model.hidden": [8], "optimizer.lr": 0.1}
    six = [1, 0, 1, 1, 1, 1, 1]
    messages = [{"type": "configure", "settings": digit}, {"type": "probe", "input": six},
                {"await": "frame"}, {"type": "play"}]  # fmt: skip
    frames = [r for r in talk(server, messages, seconds=3) if r["type"] == "frame"]
    assert frames[0]["epoch"] == 0  # the untrained network's, drawn before it plays
    last = frames[-1]
    assert last["probe"]["input"] == six and len(last["probe"]["layers"]) == 1
    assert len(last["probe"]["answer"]) == 10 and abs(sum(last["probe"]["answer"]) - 1) < 1e-5
    confusion = last["confusion"]
    assert len(confusion) == 10 and sum(map(sum, confusion)) == 10  # the ten clean digits
    first = sum(frames[0]["confusion"][k][k] for k in range(10))
    assert sum(confusion[k][k] for k in range(10)) > first  # it learns the digits


@browser
def test_the_seven_segment_digit_is_set_by_clicking_its_segments(server, page):
    page.goto(server + "/#data=%22seven_segment%22&model.hidden=%5B8%5D&optimizer.lr=0.1")
    page.wait_for_selector("#digit polygon")
    _play(page, 300)
    page.wait_for_function("document.querySelectorAll('#digit polygon.on').length === 6")  # 0
    page.click("#digit polygon[data-segment='6']")  # the middle bar: 0 becomes 8
    page.wait_for_function(
        "document.querySelector('#probe-outputs .best span').textContent === '8'"
    )
    assert page.locator("#confusion tr").count() == 1 + 10
    assert page.locator("#network .value").count() == 7 + 8 + 10


@browser
def test_many_seeds_train_at_once_and_the_page_says_how_many_solved(server, page):
    _open(page, server + "/")
    page.select_option("#replicas", "4")
    page.wait_for_function("location.hash.includes('trainer.replicas=4')")
    page.click("#play")
    page.wait_for_function("/solved \\d\\/4/.test(document.getElementById('solved').textContent)")
    assert "worst: seed" in page.inner_text("#replica-note")
    assert page.locator("#network canvas.unit").count() == 2 + 4 + 2 + 1  # the best, drawn


def test_a_diverging_run_stops_with_nnkits_line(server):
    settings = {"data": "plane", "optimizer": "sgd", "optimizer.lr": 10, "model.activation": "relu"}
    replies = talk(server, [{"type": "configure", "settings": settings}, {"type": "play"}], 2)
    (stopped,) = [r for r in replies if r["type"] == "error"]
    assert (
        stopped["stopped"]
        and "training diverged: the loss became inf at optimizer step" in (stopped["message"])
    )
    assert "optimizer.lr=10" in stopped["message"]


PLUGINS = ROOT / "tests" / "plugins"
LOADED = f"plugins=[{PLUGINS / 'wrong_square.py'},{PLUGINS / 'raises_mid_step.py'}]"


@pytest.fixture(scope="module")
def plugin_server(tmp_path_factory) -> Iterator[str]:
    yield from _serve(tmp_path_factory.mktemp("plugins"), *START, LOADED)


def test_a_plugin_that_fails_its_proof_is_refused_with_the_command_lines_line(plugin_server):
    chosen = {"model.activation": "wrong_square"}
    (error,) = [r for r in talk(plugin_server, [{"type": "configure", "settings": chosen}])]
    done = cli("nnkit.train", LOADED, "model.activation=wrong_square", "trainer.max_epochs=1")
    assert done.returncode == 2
    assert error["type"] == "error" and "fails its gradient proof" in error["message"]
    assert f"nnkit.train: error: {error['message']}" in done.stderr


def test_a_plugin_that_raises_mid_step_ends_its_session_not_the_server(plugin_server):
    chosen = {"model.activation": "raises_mid_step", "data.batch_size": 9}
    replies = talk(plugin_server, [{"type": "configure", "settings": chosen}, {"type": "play"}], 1)
    (stopped,) = [r for r in replies if r["type"] == "error"]
    assert stopped["stopped"]
    assert stopped["message"] == (
        "training stopped: RuntimeError: raises_mid_step cannot take 9 rows"
    )
    assert any(
        r["type"] == "built" for r in talk(plugin_server, [{"type": "configure", "settings": {}}])
    )


def test_a_csv_in_the_started_folder_trains_and_a_path_outside_it_is_refused(server, started_in):
    rows = ["x1,x2,label"] + [f"{i / 50 - 1},{(i * 7 % 100) / 50 - 1},{i % 2}" for i in range(100)]
    (started_in / "points.csv").write_text("\n".join(rows) + "\n")
    chosen = {"data": "csv", "data.path": "points.csv", "model.hidden": [3]}
    built = next(r for r in talk(server, [{"type": "configure", "settings": chosen}]))
    assert built["type"] == "built" and built["features"] == ["x1", "x2"] and built["points"]
    for outside in ("../points.csv", "/etc/passwd"):
        chosen["data.path"] = outside
        (error,) = talk(server, [{"type": "configure", "settings": chosen}])
        assert (
            error["type"] == "error" and "inside the folder it was started in" in error["message"]
        )


HEATMAP = 'document.getElementById("heatmap").getContext("2d").getImageData(0, 0, 300, 300).data'
DARK_PIXELS = f"""() => {{
    const data = {HEATMAP};
    let dark = 0;
    for (let i = 0; i < data.length; i += 4) dark += data[i] + data[i + 1] + data[i + 2] < 120;
    return dark;
}}"""
COLOURS = f"""() => {{
    const data = {HEATMAP}, seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) seen.add(data.slice(i, i + 3).join());
    return seen.size;
}}"""


@browser
def test_the_data_panels_controls_each_build_the_run_they_say(server, page):
    _open(page, server + "/")
    _play(page, 50)
    page.wait_for_timeout(300)
    dark, colours = page.evaluate(DARK_PIXELS), page.evaluate(COLOURS)
    page.click("#show-test")  # the test points, outlined in black
    assert page.evaluate(DARK_PIXELS) > dark
    page.click("#discretize")  # two colours, and the points'
    assert page.evaluate(COLOURS) < colours
    page.fill("#ratio", "0.5")
    page.dispatch_event("#ratio", "change")
    page.wait_for_function("state.built.points.train.x.length === 150")  # half of 300 points
    assert "data.train_fraction=0.5" in page.url
    page.fill("#noise", "0.2")
    page.dispatch_event("#noise", "change")
    page.wait_for_function("location.hash.includes('data.noise=0.2')")
    page.click("#regenerate")
    page.wait_for_function("state.built.settings['data.seed'] === 1")
    page.fill("#batch", "25")
    page.dispatch_event("#batch", "change")
    page.wait_for_function("state.built.settings['data.batch_size'] === 25")
    page.check("#features input[value='x1_sq']")
    page.wait_for_function("document.querySelectorAll('#network canvas.unit.input').length === 3")
    assert "x1_sq" in page.url


@browser
def test_each_bias_is_drawn_on_its_neuron(server, page):
    page.goto(server + "/")
    page.wait_for_selector("#network .bias[title]")
    assert page.locator("#network .bias").count() == 4 + 2 + 1
    assert page.get_attribute("#network .bias[data-layer='1'][data-unit='0']", "title").startswith(
        "bias "
    )


def test_sessions_are_bounded_and_a_closed_tab_frees_its_own(server):
    async def crowd() -> tuple[str, bool]:
        async with aiohttp.ClientSession() as client:
            tabs = [await client.ws_connect(f"{server}/ws", origin=server) for _ in range(30)]
            extra = await client.ws_connect(f"{server}/ws", origin=server)
            refused = (await extra.receive_json(timeout=10))["message"]
            for tab in tabs:
                await tab.close()
            for _ in range(100):  # the server frees a closed tab's place as its socket ends
                async with client.ws_connect(f"{server}/ws", origin=server) as again:
                    await again.send_json({"type": "configure", "settings": {}})
                    reply = (await again.receive_json(timeout=60))["type"]
                if reply == "built":
                    return refused, True
                await asyncio.sleep(0.1)
        return refused, False

    refused, built = asyncio.run(crowd())
    assert "already trains 30 tabs" in refused and built


def test_closing_or_hiding_a_tab_stops_its_training_and_showing_it_plays_on():
    from nnkit.playground.live import TRAINER, Live

    live = Live(START)
    live.build({})
    live.playing.set()
    time.sleep(0.3)
    assert live.session is not None and live.session.steps > 0
    live.idle(hidden=True)
    time.sleep(0.1)
    hidden_at = live.session.steps
    time.sleep(0.3)
    assert live.session.steps == hidden_at and not live.playing.is_set()
    live.idle(hidden=False)
    time.sleep(0.3)
    assert live.session.steps > hidden_at
    live.close()
    time.sleep(0.1)
    closed_at = live.session.steps
    time.sleep(0.3)
    assert live.session.steps == closed_at and live not in TRAINER.lives
