"""A classroom on one machine: ``python -m nnkit.playground host=... token=...`` serves every
address it is given to whoever holds its token, and nobody else — tested on the real server,
with 127.0.0.2 and 127.0.0.3 as stand-ins for the students' side of a machine's addresses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nnkit.playground import handover
from nnkit.playground.handover import export
from nnkit.playground.session import Session
from tests.test_playground import CHROMIUM, ROOT, START, _free_port

aiohttp = pytest.importorskip("aiohttp")
TOKEN = "room-token-4521"
ADDRESSES = ("127.0.0.2", "127.0.0.3")


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> Iterator[tuple[list[str], Path]]:
    """The server on two addresses with a token: the URLs it prints, the folder it runs in."""
    folder, port = tmp_path_factory.mktemp("room"), _free_port()
    command = [sys.executable, "-m", "nnkit.playground", "open=false", f"port={port}",
               f"host={','.join(ADDRESSES)}", f"token={TOKEN}", *START]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert process.stdout is not None
    printed = [process.stdout.readline() for _ in ADDRESSES]
    yield printed, folder
    process.terminate()
    process.wait(timeout=30)


def _base(address: str, printed: list[str]) -> str:
    line = next(line for line in printed if f"//{address}:" in line)
    return line.split("http://", 1)[1].split("/", 1)[0]


def test_the_server_prints_every_address_with_its_token(room):
    printed, _ = room
    for address in ADDRESSES:
        assert f"http://{_base(address, printed)}/?token={TOKEN}" in "".join(printed)


async def _status(url: str, **headers: str) -> int:
    async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as response:
        return response.status


@pytest.mark.parametrize("address", ADDRESSES)
def test_every_request_without_the_token_is_refused_with_403(room, address):
    host = _base(address, room[0])
    for path in ("/", "/static/app.js", "/ws", "/exports/anything/config.yaml", "/?token=wrong"):
        assert asyncio.run(_status(f"http://{host}{path}")) == 403, path
    evil = {"Origin": "http://evil.example"}  # another site, in a student's browser
    assert asyncio.run(_status(f"http://{host}/ws?token={TOKEN}", **evil)) == 403


async def _student(host: str) -> tuple[int, int, str, dict]:
    """A student's browser: the page by the printed URL (its cookie kept), an asset by the
    cookie alone, then a run built and played on the WebSocket, and an export downloaded."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for an address, not a name
    async with aiohttp.ClientSession(cookie_jar=jar) as client:
        async with client.get(f"http://{host}/?token={TOKEN}") as page:
            page_status = page.status
        async with client.get(f"http://{host}/static/app.js") as asset:
            asset_status = asset.status
        origin = f"http://{host}"
        async with client.ws_connect(f"{origin}/ws", origin=origin, max_msg_size=2**26) as ws:
            await ws.send_json({"type": "configure", "settings": {}})
            await ws.send_json({"type": "step"})
            await ws.send_json({"type": "export"})
            while (reply := await ws.receive_json(timeout=60))["type"] != "export":
                assert reply["type"] != "error", reply
        config = next(f for f in reply["files"] if f.endswith("config.yaml"))
        async with client.get(f"{origin}/exports/{config}") as download:
            text = await download.text()
    return page_status, asset_status, text, reply


@pytest.mark.parametrize("address", ADDRESSES)
def test_with_the_token_any_address_serves_the_page_its_socket_and_exports(room, address):
    page, asset, downloaded, reply = asyncio.run(_student(_base(address, room[0])))
    assert (page, asset) == (200, 200)
    assert reply["epoch"] == 1 and downloaded.strip()
    assert Path(reply["folder"]).is_relative_to(room[1])


def test_two_tabs_exporting_at_once_keep_their_own_folders(room):
    host = _base(ADDRESSES[0], room[0])

    async def both() -> list[dict]:
        return [r for *_, r in await asyncio.gather(_student(host), _student(host))]

    first, second = asyncio.run(both())
    assert first["folder"] != second["folder"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_a_students_browser_opens_the_printed_url_and_plays(room):
    playwright = pytest.importorskip("playwright.sync_api")
    url = f"http://{_base(ADDRESSES[1], room[0])}/?token={TOKEN}"
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        page = chromium.new_page()
        page.goto(url)
        page.wait_for_selector("#network canvas.unit")
        page.click("#play")
        page.wait_for_function("Number(document.getElementById('epoch').textContent) > 3")
        chromium.close()


def test_the_oldest_exports_make_room_for_new_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(handover, "MAX_EXPORTS", 2)
    session = Session(START)
    session.train_epochs(1)
    folders = []
    for _ in range(3):
        reply = export(session, tmp_path)
        folders.append(Path(reply["folder"]))
        time.sleep(0.01)  # each folder a later modification time
    assert reply["removed"] == [folders[0].name]
    assert [f.exists() for f in folders] == [False, True, True]
