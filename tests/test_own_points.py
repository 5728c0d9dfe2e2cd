"""A learner's own points on the page: clicked onto the plane or uploaded, read by nnkit's CSV
reader (its one-line errors on the page), trained as ``data=csv``, and exported beside the
config so ``nnkit.train`` replays the run on them bit for bit."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from nnkit.playground.handover import export
from nnkit.playground.own_points import FOLDER, save_points
from nnkit.playground.session import Session
from nnkit.runs.checkpoints import load_checkpoint
from tests.test_playground import CHROMIUM, START, _open, _serve, talk
from tests.test_playground_export import _same, _train, _weights


@pytest.fixture(scope="module")
def started_in(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("own-points")


@pytest.fixture(scope="module")
def server(started_in) -> Iterator[str]:
    yield from _serve(started_in, *START)


DRAWN = [[(i % 9) / 4 - 1, (i // 9) / 3 - 1, int((i % 9) / 4 - 1 > 0)] for i in range(54)]


def test_drawn_points_are_exported_beside_the_config_and_replayed_bit_for_bit(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the folder the playground was started in
    path = save_points(DRAWN, tmp_path)
    assert path.startswith(f"{FOLDER}/") and (tmp_path / path).read_text().startswith("x1,x2,label")
    session = Session(["data=csv", f"data.path={path}", "data.standardize=false",
                       "model.hidden=[3]", "data.batch_size=8"])  # fmt: skip
    assert session.data.train[0].abs().max() <= 1.0  # the points where they were drawn
    session.train_epochs(3)
    reply = export(session, tmp_path)
    copy = Path(reply["folder"]) / "data.csv"
    assert copy.read_text() == (tmp_path / path).read_text()
    line = shlex.split(reply["command"])[3:]
    assert f"data.path={copy}" in line and "data.standardize=false" in line
    assert f"path: {copy}" in reply["config"]
    replayed = _train(line, tmp_path / "replay")
    assert _same(_weights(replayed), [p.detach() for p in session.net.network_params()])
    assert load_checkpoint(replayed)["hyper_parameters"]["config"]["data"]["path"] == str(copy)


def test_own_data_is_checked_and_refused_in_one_line(server, started_in):
    bad = [
        {"type": "points", "rows": DRAWN[:4]},
        {"type": "points", "rows": [[0.1, 0.2, "blue"]] * 12},
        {"type": "upload", "name": "notes.csv", "text": "just one line"},
        {"type": "upload", "name": "huge.csv", "text": "x1,x2,y\n" + "0.1,0.2,1\n" * 200_000},
    ]
    replies = talk(server, [*bad, {"type": "points", "rows": DRAWN}])
    errors = [r["message"] for r in replies if r["type"] == "error"]
    assert len(errors) == 4 and all("\n" not in e for e in errors)
    assert "draw 10 to 5000 points" in errors[0] and "three finite numbers" in errors[1]
    assert errors[2].startswith("notes.csv:") and "at most 1 MiB" in errors[3]
    (saved,) = [r for r in replies if r["type"] == "data"]
    assert saved["drawn"] and (started_in / saved["path"]).is_file()
    assert not list((started_in / FOLDER).glob("notes-*"))  # a refused file is not kept


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_points_clicked_onto_the_plane_and_a_file_uploaded_become_the_data(server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        page = chromium.new_page(viewport={"width": 1280, "height": 800})
        _open(page, server + "/")
        page.check("#draw")
        box = page.locator("#heatmap").bounding_box()
        assert box is not None
        for i in range(12):  # the left half orange (label 0), the right half blue (label 1)
            page.fill("#draw-label", str(int(i % 2)))
            x = box["x"] + box["width"] * (0.2 + 0.6 * (i % 2) + 0.01 * i)
            page.mouse.click(x, box["y"] + box["height"] * (0.1 + 0.07 * i))
        assert "12 drawn" in page.inner_text("#draw-note"), page.inner_text("#error")
        page.wait_for_function("state.built && state.built.settings.data === 'csv'")
        assert "data.standardize=false" in page.url
        assert page.evaluate("state.built.points.train.x.length") >= 7
        table = tmp_path / "mine.csv"
        table.write_text("a,b,kind\n" + "".join(f"{i},{i % 5},{i % 2}\n" for i in range(40)))
        page.set_input_files("#upload", str(table))
        page.wait_for_function("state.built.settings['data.path'].includes('mine-')")
        assert page.evaluate("state.built.settings['data.standardize']") is True
        chromium.close()
