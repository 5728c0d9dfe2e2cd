"""The playground's web server (aiohttp): the page, its assets, and a WebSocket per tab.

Each WebSocket is a session: its own run (``Session``), trained by a thread of its own while
the page plays (``nnkit.playground.live``), and its frames sent at most ``FPS`` times a
second, so training never waits for the drawing. Messages from the page are JSON objects
with a ``type``:

- ``configure`` (``settings``: config keys and values): build a new run — the reset;
- ``play``, ``pause``, ``step`` (one epoch), ``lr`` (``value``, applied without a reset),
  ``idle`` (``hidden``: the tab was hidden, its training pauses; shown again, it plays on),
  ``weight`` (``layer``, ``row``, ``column``, ``value``: a weight typed on the page),
  ``probe`` (``input``: for data that is not a plane, the input whose values the page shows);
- ``export``: the run written for the command line (``nnkit.playground.handover``) under the
  folder the server was started in, its files served under ``/exports/``; ``script``: the run
  as a plain PyTorch script (``nnkit.training.plain_script``); ``points`` (``rows``: drawn
  ``[x1, x2, label]``) or ``upload`` (``name``, ``text``: a CSV file): the learner's own data,
  written under the started folder (``nnkit.playground.own_points``), its ``data.path`` sent
  back for the page to train on;
- ``explain`` (``part`` and ``index`` of a point, or ``input`` and ``label``): one step's
  numbers, as ``nnkit.explain`` prints them. ``configure`` with ``example: "article"`` builds
  the article's worked example and explains its point at once.

Anything malformed or refused by the schema is answered ``{"type": "error", "message": ...}``
with nnkit's one line, and the session goes on. Who may send requests is
``nnkit.playground.access``'s rule: on loopback, the server's own pages (another site in the
browser cannot drive it); for a classroom, whoever holds its token. The number of sessions is
bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from nnkit.errors import one_line
from nnkit.playground.access import COOKIE, Access
from nnkit.playground.handover import FOLDER, export
from nnkit.playground.live import TRAINING_ERRORS, Live
from nnkit.playground.own_points import MAX_UPLOAD_BYTES, save_points, save_upload
from nnkit.playground.pictures import description, frame, snapshot
from nnkit.playground.session import Session
from nnkit.playground.step_panel import ARTICLE_POINT, explain_step

FPS = 25
MAX_TABS = 30  # tabs trained at once by default (``tabs=``): measured on 2 cores, each of 30
# playing tabs gets 5 frames a second and sees a changed control after 0.27 s (docs: Playground)
PAGE_ERRORS: tuple[type[Exception], ...] = (
    *TRAINING_ERRORS, ValueError, TypeError, KeyError, OSError,
)  # fmt: skip
STATIC = resources.files("nnkit.playground") / "static"


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
            reply = await _handle(live, message.data, request.app["folder"])
            if reply is not None:
                await ws.send_json(reply)
    finally:
        sender.cancel()
        live.close()
        sessions.discard(live)
    return ws


def _not_finite(constant: str) -> float:
    raise ValueError(f"a number from the page must be finite, not {constant}")


def parse_message(text: str) -> Any:
    """A message's JSON, refusing in one line what Python's reader would take silently
    (``NaN``, ``Infinity``) or could not take at all (nesting past the interpreter's depth).

    >>> parse_message('{"type": "weight", "value": NaN}')
    Traceback (most recent call last):
    ...
    ValueError: a number from the page must be finite, not NaN
    """
    try:
        return json.loads(text, parse_constant=_not_finite)
    except RecursionError:
        raise ValueError("a message is nested too deeply to read") from None


async def _handle(live: Live, text: str, folder: Path) -> dict[str, Any] | None:
    """The answer to one message (None: the frames will show it)."""
    try:
        message = parse_message(text)
        if not isinstance(message, dict):
            raise ValueError("a message is a JSON object with a 'type'")
        kind = message.get("type")
        if kind == "configure":
            example = message.get("example")
            session = await asyncio.to_thread(live.build, message.get("settings", {}), example)
            built = description(session)
            if example == "article":
                built["explained"] = explain_step(session, *ARTICLE_POINT)
            return built
        if kind == "idle":  # a hidden tab, before its run is built too
            live.idle(message.get("hidden") is not False)
            return None
        if kind in ("points", "upload"):  # own data, written as a CSV the page then trains on
            path = await asyncio.to_thread(_own_data, message, folder)
            rows = len((folder / path).read_text().splitlines()) - 1
            return {"type": "data", "path": path, "drawn": kind == "points", "rows": rows}
        if live.session is None:
            raise ValueError(f"'{kind}' before 'configure': the page has no run yet")
        if kind == "export":
            return await asyncio.to_thread(_export, live, folder)
        if kind == "script":
            return await asyncio.to_thread(_script, live, folder)
        if kind == "explain":
            with live.hold() as session:
                return explain_step(session, *_point(session, message))
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
    elif kind == "probe":
        with live.hold() as session:
            session.set_probe(message.get("input"))
    else:
        choices = (
            "configure, play, pause, idle, step, lr, weight, probe, export, script, explain, "
            "points, upload"
        )
        raise ValueError(f"unknown message type {kind!r} (choose from: {choices})")
    return None


def _point(session: Session, message: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The input and label a message names: ``part`` and ``index`` of a data point, or
    ``input`` and ``label`` themselves."""
    if "input" in message:
        label = message.get("label", [0])
        return list(message["input"]), list(label if isinstance(label, list) else [label])
    part, index = message.get("part", "train"), message.get("index")
    if part not in ("train", "test"):
        raise ValueError(f"part={part!r} should be train or test")
    x, y = getattr(session.data, part)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(x):
        raise ValueError(f"there is no {part} point {index!r} (0 to {len(x) - 1})")
    return x[index].tolist(), y[index].reshape(-1).tolist()


def _export(live: Live, folder: Path) -> dict[str, Any]:
    """The run written for the command line, paused there (the page plays on when asked)."""
    live.playing.clear()
    with live.hold() as session:
        return export(session, folder)


def _own_data(message: dict[str, Any], folder: Path) -> str:
    """Drawn points (``rows``) or an uploaded file (``name``, ``text``) as a CSV under the
    started folder: its ``data.path``."""
    if message["type"] == "points":
        return save_points(message.get("rows"), folder)
    return save_upload(message.get("name"), message.get("text"), folder)


def _script(live: Live, folder: Path) -> dict[str, Any]:
    """The page's run as a plain PyTorch script (``python -m nnkit.script`` of its settings)."""
    from nnkit.training.plain_script import plain_script

    with live.hold() as session:
        overrides = list(session.overrides)
    return {"type": "script", "text": plain_script(overrides, folder)}


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
    session.set_weight(layer, row, column, float(value))


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
            with live.hold():  # a snapshot under the lock; the frame drawn while training goes on
                last = (id(session), session.changes)
                now = _failing(live, snapshot, session)
            drawn = _failing(live, frame, session, now) if now is not None else None
            if drawn is not None:
                drawn["playing"] = live.playing.is_set()
                await ws.send_json(drawn)
        await asyncio.sleep(max(0.0, 1 / FPS - (time.perf_counter() - started)))


def _failing(live: Live, draw: Any, *args: Any) -> Any:
    """``draw(*args)``; a plugin that raises while the session is drawn stops the session
    (its line is the next error sent), not the server: None then."""
    try:
        return draw(*args)
    except Exception as error:
        live.stop(error)
        return None
