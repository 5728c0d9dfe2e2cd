"""The playground's web server (aiohttp): the page, its assets, and a WebSocket per tab.

Each WebSocket is a session: its own run (``Session``), trained by the server's training
thread while the page plays (``nnkit.playground.live``), and its frames sent at most ``FPS``
times a second, so training never waits for the drawing. The messages and their answers are
``nnkit.playground.messages``' (a notebook's widget speaks them too); exports are served under
``/exports/``. Who may send requests is ``nnkit.playground.access``' rule: on loopback, the
server's own pages (another site in the browser cannot drive it); for a classroom, whoever holds
its token. The number of tabs is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from nnkit.playground.access import COOKIE, Access
from nnkit.playground.handover import FOLDER
from nnkit.playground.live import Live
from nnkit.playground.messages import FPS, STATIC, Seen, answer, frames, sent
from nnkit.playground.own_points import MAX_UPLOAD_BYTES

MAX_TABS = 30  # tabs trained at once by default (``tabs=``): measured on 2 cores, each of 30
# playing tabs gets 5 frames a second and sees a changed control after 0.27 s (docs: Playground)


def make_app(
    base: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
    checkpoint: dict[str, Any] | None = None,
    folder: Path | None = None,
    token: str | None = None,
    max_tabs: int = MAX_TABS,
) -> web.Application:
    """The playground's application; ``base`` overrides apply under every page's settings,
    ``checkpoint`` is where a page of those settings opens, exports go under ``folder``;
    requests come from ``allowed_origins``, or hold ``token`` (a classroom); at most
    ``max_tabs`` tabs train at once."""
    app = web.Application(middlewares=[_guard])
    app["base"], app["sessions"], app["max_tabs"] = list(base), set(), max_tabs
    app["access"] = Access(frozenset(allowed_origins), token)
    app["checkpoint"], app["folder"] = checkpoint, (folder or Path.cwd()).resolve()
    app.router.add_get("/", _index)
    app.router.add_get("/ws", _socket)
    app.router.add_static("/static", str(STATIC))
    app.router.add_get("/exports/{path:.+}", _exported)
    return app


async def _exported(request: web.Request) -> web.StreamResponse:
    """An exported file, downloaded; nothing outside the exports' folder is served."""
    exports = request.app["folder"] / FOLDER
    path = (exports / request.match_info["path"]).resolve()
    if not path.is_relative_to(exports.resolve()) or not path.is_file():
        raise web.HTTPNotFound(text="no such export")
    download = {"Content-Disposition": f"attachment; filename={path.name}"}
    return web.FileResponse(path, headers=download)


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse (403) what the access rule refuses; a page opened with the token keeps it in a
    cookie, so its assets, its WebSocket and its exports carry it."""
    access: Access = request.app["access"]
    headers = request.headers
    refusal = access.refusal(headers.get("Host", ""), headers.get("Origin"), request.query,
                             request.cookies)  # fmt: skip
    if refusal is not None:
        raise web.HTTPForbidden(text=refusal)
    response = await handler(request)
    if access.holds(request.query.get("token")) and not response.prepared:
        response.set_cookie(COOKIE, request.query["token"], httponly=True, samesite="Strict")
    return response


def too_many(tabs: int) -> str:
    """What a tab past the bound is told.

    >>> too_many(30).split(":")[0]
    'this playground already trains 30 tabs, as many as it serves with a live page each'
    """
    return (
        f"this playground already trains {tabs} tabs, as many as it serves with a live page "
        "each: try again when a tab closes (the server's tabs= sets the bound)"
    )


async def _index(request: web.Request) -> web.StreamResponse:
    return web.Response(text=(STATIC / "index.html").read_text(), content_type="text/html")


async def _socket(request: web.Request) -> web.StreamResponse:
    sessions: set = request.app["sessions"]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4 * MAX_UPLOAD_BYTES)  # an upload
    await ws.prepare(request)
    if len(sessions) >= request.app["max_tabs"]:
        await ws.send_json({"type": "error", "message": too_many(request.app["max_tabs"])})
        await ws.close()
        return ws
    live = Live(request.app["base"], request.app["checkpoint"])
    sessions.add(live)
    sender = asyncio.create_task(_frames(ws, live))
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            reply = await asyncio.to_thread(answer, live, message.data, request.app["folder"])
            if reply is not None:
                await ws.send_json(reply)
                sent(live, reply)
    finally:
        sender.cancel()
        live.close()
        sessions.discard(live)
    return ws


async def _frames(ws: web.WebSocketResponse, live: Live) -> None:
    """Send the session's frame at most FPS times a second while it changes."""
    seen: Seen = None
    while not ws.closed:
        started = time.perf_counter()
        sent, seen = frames(live, seen)
        for message in sent:
            await ws.send_json(message)
        await asyncio.sleep(max(0.0, 1 / FPS - (time.perf_counter() - started)))
