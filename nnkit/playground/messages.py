"""The playground's messages, whatever carries them: a WebSocket of the page's server
(``nnkit.playground.server``) or a notebook widget's comm (``nnkit.playground.widget``).

``answer`` takes one message from the page (JSON text) and gives its reply, ``sent`` follows
its delivery; ``frames`` gives what the page is sent next of a tab's live run (its error, its
frame when it changed, once the page was sent the run's description). Messages
are JSON objects with a ``type``:

- ``configure`` (``settings``: config keys and values): build a new run — the reset;
- ``play``, ``pause``, ``step`` (one epoch), ``lr`` (``value``, applied without a reset),
  ``idle`` (``hidden``: the tab was hidden, its training pauses; shown again, it plays on),
  ``weight`` (``layer``, ``row``, ``column``, ``value``: a weight typed on the page),
  ``probe`` (``input``: for data that is not a plane, the input whose values the page shows);
- ``export``: the run written for the command line (``nnkit.playground.handover``) under the
  started folder; ``script``: the run as a plain PyTorch script
  (``nnkit.training.plain_script``); ``points`` (``rows``: drawn ``[x1, x2, label]``) or
  ``upload`` (``name``, ``text``: a CSV file): the learner's own data, written under the
  started folder (``nnkit.playground.own_points``), its ``data.path`` sent back;
- ``explain`` (``part`` and ``index`` of a point, or ``input`` and ``label``): one step's
  numbers, as ``nnkit.explain`` prints them. ``configure`` with ``example: "article"`` builds
  the article's worked example and explains its point at once.

Anything malformed or refused by the schema is answered ``{"type": "error", "message": ...}``
with nnkit's one line, and the session goes on.

>>> answer(Live([]), '{"type": "step"}', Path("."))
{'type': 'error', 'message': "'step' before 'configure': the page has no run yet"}
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from nnkit.errors import one_line
from nnkit.playground.handover import export
from nnkit.playground.live import TRAINING_ERRORS, Live
from nnkit.playground.own_points import save_points, save_upload
from nnkit.playground.pictures import description, frame, snapshot
from nnkit.playground.session import Session
from nnkit.playground.step_panel import ARTICLE_POINT, explain_step

FPS = 25  # frames a second, at most, to a page
STATIC = resources.files("nnkit.playground") / "static"  # the page, its style and scripts
PAGE_ERRORS: tuple[type[Exception], ...] = (
    *TRAINING_ERRORS, ValueError, TypeError, KeyError, OSError,
)  # fmt: skip
Seen = tuple[int, int] | None  # the session and its count of changes a frame last showed


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


def answer(live: Live, text: str, folder: Path) -> dict[str, Any] | None:
    """The answer to one message (None: the frames will show it); exports and own data go
    under ``folder``. Called off the transport's own thread (it may train or write files)."""
    try:
        message = parse_message(text)
        if not isinstance(message, dict):
            raise ValueError("a message is a JSON object with a 'type'")
        kind = message.get("type")
        if kind == "configure":
            example = message.get("example")
            session = live.build(message.get("settings", {}), example)
            built = description(session)
            if example == "article":
                built["explained"] = explain_step(session, *ARTICLE_POINT)
            return built
        if kind == "idle":  # a hidden tab, before its run is built too
            live.idle(message.get("hidden") is not False)
            return None
        if kind in ("points", "upload"):  # own data, written as a CSV the page then trains on
            path = _own_data(message, folder)
            rows = len((folder / path).read_text().splitlines()) - 1
            return {"type": "data", "path": path, "drawn": kind == "points", "rows": rows}
        if live.session is None:
            raise ValueError(f"'{kind}' before 'configure': the page has no run yet")
        if kind == "export":
            return _export(live, folder)
        if kind == "script":
            return _script(live, folder)
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


def sent(live: Live, reply: dict[str, Any] | None) -> None:
    """After a reply went to the page: a ``built`` run's frames may follow it (never before,
    so a page meets each run by its description first)."""
    if reply is not None and reply.get("type") == "built":
        live.announced = live.session


def frames(live: Live, seen: Seen) -> tuple[list[dict[str, Any]], Seen]:
    """What the page is sent next of ``live``: its training's error, once, and a frame where the
    session changed since ``seen`` (the snapshot under the lock, the drawing after it)."""
    out: list[dict[str, Any]] = []
    if live.error is not None:
        out.append({"type": "error", "message": live.error, "stopped": True})
        live.error = None
    session = live.session
    if session is None or session is not live.announced or (id(session), session.changes) == seen:
        return out, seen  # no run, or one the page does not know yet, or nothing new
    with live.hold():  # a snapshot under the lock; the frame drawn while training goes on
        seen = (id(session), session.changes)
        now = _failing(live, snapshot, session)
    drawn = _failing(live, frame, session, now) if now is not None else None
    if drawn is not None:
        drawn["playing"] = live.playing.is_set()
        out.append(drawn)
    return out, seen


def _failing(live: Live, draw: Any, *args: Any) -> Any:
    """``draw(*args)``; a plugin that raises while the session is drawn stops the session
    (its line is the next error sent), not the server: None then."""
    try:
        return draw(*args)
    except Exception as error:
        live.stop(error)
        return None
