"""The playground's web server (aiohttp): the page, its assets, and a WebSocket per tab.

Each WebSocket is a session: its own run (``Session``), trained by a thread of its own while
the page plays, and its frames sent at most ``FPS`` times a second, so training never waits
for the drawing. Messages from the page are JSON objects with a ``type``:

- ``configure`` (``settings``: config keys and values): build a new run — the reset;
- ``play``, ``pause``, ``step`` (one epoch), ``lr`` (``value``, applied without a reset),
  ``weight`` (``layer``, ``row``, ``column``, ``value``: a weight typed on the page).

Anything malformed or refused by the schema is answered ``{"type": "error", "message": ...}``
with nnkit's one line, and the session goes on. Requests whose Origin or Host is not the
server's own are refused (another site in the browser cannot drive it); the number of
sessions is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

import torch
from aiohttp import WSMsgType, web

from nnkit.errors import USER_ERRORS, DivergenceError, one_line
from nnkit.playground.session import Session
from nnkit.playground.settings import to_overrides

FPS = 25
CHUNK_S = 0.02  # the training thread holds a session this long at a time
MAX_SESSIONS = 8
TRAINING_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, DivergenceError)
PAGE_ERRORS: tuple[type[Exception], ...] = (*TRAINING_ERRORS, ValueError, TypeError, KeyError)
STATIC = resources.files("nnkit.playground") / "static"


class Live:
    """A session and the thread that trains it while ``playing``."""

    def __init__(self, base: Sequence[str]) -> None:
        self.base = list(base)
        self.session: Session | None = None
        self.playing = threading.Event()
        self.stopped = threading.Event()
        self.error: str | None = None
        self.chunk = 1  # minibatches trained per hold of the session's lock (see _pace)
        self.frame_waiting = threading.Event()
        self.thread = threading.Thread(target=self._train, daemon=True)
        self.thread.start()

    def build(self, settings: dict[str, Any]) -> Session:
        self.playing.clear()
        session = Session([*self.base, *to_overrides(settings)])
        self.session = session
        return session

    def _train(self) -> None:
        while not self.stopped.is_set():
            if not self.playing.wait(0.05) or self.session is None:
                continue
            session = self.session
            try:
                with session.lock:
                    started = time.perf_counter()
                    session.advance(self.chunk)
                    self._pace(time.perf_counter() - started)
                while self.frame_waiting.is_set():  # someone waits for the session: let them in
                    time.sleep(0.001)
            except TRAINING_ERRORS as error:
                self.error = one_line(str(error))  # divergence: nnkit's line
                self.playing.clear()
            except Exception as error:  # a plugin's failure ends this session, not the server
                self.error = f"training stopped: {type(error).__name__}: {one_line(str(error))}"
                self.playing.clear()

    def _pace(self, seconds: float) -> None:
        """Steps per chunk so that a chunk takes about CHUNK_S: frames in between, however
        slow one epoch of a large network on large data is."""
        if seconds > 0:
            self.chunk = max(1, min(100_000, int(self.chunk * CHUNK_S / seconds)))

    @contextlib.contextmanager
    def hold(self) -> Iterator[Session]:
        """The session, with its lock taken ahead of the training thread (the lock is not
        fair: without the flag, the thread that just released it takes it again)."""
        session = self.session
        assert session is not None
        self.frame_waiting.set()
        with session.lock:
            self.frame_waiting.clear()
            yield session

    def close(self) -> None:
        self.stopped.set()
        self.playing.clear()


def make_app(base: Sequence[str] = (), allowed_origins: Sequence[str] = ()) -> web.Application:
    """The playground's application; ``base`` overrides apply under every page's settings."""
    app = web.Application(middlewares=[_same_origin])
    app["base"], app["origins"], app["sessions"] = list(base), set(allowed_origins), set()
    app.router.add_get("/", _index)
    app.router.add_get("/ws", _socket)
    app.router.add_static("/static", str(STATIC))
    return app


@web.middleware
async def _same_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    origins = request.app["origins"]
    origin = request.headers.get("Origin")
    host = request.headers.get("Host", "")
    if origins and host not in {o.split("://", 1)[-1] for o in origins}:
        raise web.HTTPForbidden(text=f"unexpected Host {host!r}")
    if origin is not None and origins and origin not in origins:
        raise web.HTTPForbidden(text=f"unexpected Origin {origin!r}")
    return await handler(request)


async def _index(request: web.Request) -> web.StreamResponse:
    return web.Response(text=(STATIC / "index.html").read_text(), content_type="text/html")


async def _socket(request: web.Request) -> web.StreamResponse:
    sessions: set = request.app["sessions"]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    if len(sessions) >= MAX_SESSIONS:
        await ws.send_json({"type": "error", "message": f"the playground serves at most "
                            f"{MAX_SESSIONS} tabs at once; close one and reload"})  # fmt: skip
        await ws.close()
        return ws
    live = Live(request.app["base"])
    sessions.add(live)
    sender = asyncio.create_task(_frames(ws, live))
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            reply = await _handle(live, message.data)
            if reply is not None:
                await ws.send_json(reply)
    finally:
        sender.cancel()
        live.close()
        sessions.discard(live)
    return ws


async def _handle(live: Live, text: str) -> dict[str, Any] | None:
    """The answer to one message (None: the frames will show it)."""
    try:
        message = json.loads(text)
        if not isinstance(message, dict):
            raise ValueError("a message is a JSON object with a 'type'")
        kind = message.get("type")
        if kind == "configure":
            session = await asyncio.to_thread(live.build, message.get("settings", {}))
            return session.description()
        if live.session is None:
            raise ValueError(f"'{kind}' before 'configure': the page has no run yet")
        return _control(live, kind, message)
    except PAGE_ERRORS as error:
        return {"type": "error", "message": one_line(str(error))}


def _control(live: Live, kind: Any, message: dict[str, Any]) -> dict[str, Any] | None:
    if kind == "play":
        live.error = None
        live.playing.set()
    elif kind == "pause":
        live.playing.clear()
    elif kind == "step":
        with live.hold() as session:
            session.finish_epoch()
    elif kind == "lr":
        value = message.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"optimizer.lr={value!r} should be a number > 0")
        with live.hold() as session:
            session.set_lr(float(value))
    elif kind == "weight":
        with live.hold() as session:
            _set_weight(session, message)
    else:
        choices = "configure, play, pause, step, lr, weight"
        raise ValueError(f"unknown message type {kind!r} (choose from: {choices})")
    return None


def _set_weight(session: Session, message: dict[str, Any]) -> None:
    where, value = [message.get(k) for k in ("layer", "row", "column")], message.get("value")
    weights = session.net.network_params()[0::2]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in where):
        raise ValueError("a weight is named by its layer, row and column (whole numbers)")
    layer, row, column = (int(v) for v in where)  # type: ignore[arg-type]
    if (
        not 0 <= layer < len(weights)
        or not (0 <= row < weights[layer].shape[0])
        or not (0 <= column < weights[layer].shape[1])
    ):
        raise ValueError(f"there is no weight [{layer}][{row}][{column}] in this network")
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 1e3:
        raise ValueError(f"weight value {value!r} should be a number in [-1000, 1000]")
    with torch.no_grad():
        weights[layer][row, column] = float(value)
        session.changes += 1


async def _frames(ws: web.WebSocketResponse, live: Live) -> None:
    """Send the session's frame at most FPS times a second while it changes."""
    last: tuple[int, int] | None = None
    while not ws.closed:
        started = time.perf_counter()
        session = live.session
        if live.error is not None:
            await ws.send_json({"type": "error", "message": live.error, "stopped": True})
            live.error = None
        if session is not None and (id(session), session.changes) != last:
            with live.hold():
                last = (id(session), session.changes)
                frame = session.frame()
            frame["playing"] = live.playing.is_set()
            await ws.send_json(frame)
        await asyncio.sleep(max(0.0, 1 / FPS - (time.perf_counter() - started)))
