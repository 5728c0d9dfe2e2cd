"""The playground in a notebook: ``Playground("data=spiral", "model.hidden=[8,8]")`` shows the
page inline in JupyterLab, Jupyter Notebook or VS Code — an ``anywidget`` widget, nothing to
install in the notebook, no server and no port — backed by the kernel's own session.

The page runs in a frame of the widget; its messages travel by the widget's comm to a ``Live``
run in the kernel (``nnkit.playground.messages``, the very messages a server's page sends), so
plugins registered in the notebook, its CSV files and checkpoints work as on the command line.
The run is there to read from Python while (or after) the learner plays:

>>> pg = Playground("data=circular", "data.n=100", "model.hidden=[3]")
>>> pg.play(); pg.wait(epochs=2); pg.pause()
>>> pg.metrics["epoch"] >= 2, type(pg.net).__name__, pg.settings["model.hidden"]
(True, 'MLP', [3])
>>> pg.close()

``pg.export()`` writes the run for the command line (``nnkit.playground.handover``) and
returns what it wrote: the line that replays it, its config and its checkpoint.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from nnkit.playground.handover import export
from nnkit.playground.live import Live
from nnkit.playground.messages import FPS, STATIC, Seen, answer, frames, sent
from nnkit.playground.pictures import settings
from nnkit.playground.session import Session


def page() -> str:
    """The page's HTML with its style and scripts inlined, the comm's transport first."""
    html = (STATIC / "index.html").read_text()
    style = (STATIC / "style.css").read_text()
    scripts = "".join(f"<script>{(STATIC / name).read_text()}</script>"
                      for name in ("transport.js", "app.js"))  # fmt: skip
    html = html.replace(
        '<link rel="stylesheet" href="/static/style.css">', f"<style>{style}</style>"
    )
    return html.replace('<script src="/static/app.js"></script>', scripts)


class Playground(anywidget.AnyWidget):
    """The page inline, for a run of ``overrides`` (``nnkit.train``'s, on the Playground's
    start as ``python -m nnkit.playground`` takes them); ``ckpt=`` opens a checkpoint, exports
    and drawn points go under ``folder`` (the notebook's folder by default)."""

    _esm = (STATIC / "widget.js").read_text()
    page = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *overrides: str, folder: str | Path | None = None) -> None:
        from nnkit.playground.__main__ import split, start

        own, base = split(list(overrides))
        base, checkpoint = start(own, base)
        Session(base)  # every mistake refused here, in one line, as nnkit.train refuses it
        super().__init__(page=page())
        self.folder = Path(folder or Path.cwd()).resolve()
        self.live = Live(base, checkpoint)
        self.live.build({})
        self._inbox: queue.Queue[str | None] = queue.Queue()
        self._closed = threading.Event()
        self.on_msg(self._received)
        for work in (self._answer, self._stream):
            threading.Thread(target=work, daemon=True).start()

    # --- what Python reads ------------------------------------------------------------------
    @property
    def session(self) -> Session:
        """The run the page shows (a new one after each reset on the page)."""
        assert self.live.session is not None
        return self.live.session

    @property
    def net(self) -> Any:
        """The network being trained: an ``nn.Module``, its weights the page's."""
        return self.session.net

    @property
    def settings(self) -> dict[str, Any]:
        """The run's settings, as the page turns them (``optimizer.lr``, ``model.hidden``...)."""
        return settings(self.session)

    @property
    def metrics(self) -> dict[str, float]:
        """Epochs and steps trained, the training and test losses, and the test accuracy."""
        with self.live.hold() as session:
            losses = session.losses()
            accuracy = [a for a, _ in session.scores]
            return {
                "epoch": session.epoch,
                "steps": session.steps,
                "train/loss": losses["train"],
                "test/loss": losses["test"],
                **({"test/acc": accuracy[session.shown]} if session.task != "regression" else {}),
            }

    def export(self) -> dict[str, Any]:
        """The run written for the command line under ``folder``: what was written."""
        self.pause()
        with self.live.hold() as session:
            return export(session, self.folder)

    # --- what Python does -------------------------------------------------------------------
    def play(self) -> None:
        self.live.playing.set()

    def pause(self) -> None:
        self.live.playing.clear()

    def wait(self, epochs: int, timeout_s: float = 60.0) -> None:
        """Until the run has trained ``epochs`` epochs (or ``timeout_s`` has passed)."""
        ends = time.monotonic() + timeout_s
        while self.session.epoch < epochs and time.monotonic() < ends:
            time.sleep(0.01)

    def close(self) -> None:
        self._closed.set()
        self._inbox.put(None)
        self.live.close()
        super().close()

    # --- the comm ---------------------------------------------------------------------------
    def _received(self, _: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and isinstance(content.get("text"), str):
            self._inbox.put(content["text"])

    def _answer(self) -> None:
        """The page's messages, in order, answered off the kernel's own thread."""
        while (text := self._inbox.get()) is not None:
            reply = answer(self.live, text, self.folder)
            if reply is not None:
                self._post(reply)
                sent(self.live, reply)

    def _stream(self) -> None:
        """The run's frames, at most ``FPS`` a second while it changes."""
        seen: Seen = None
        while not self._closed.is_set():
            started = time.perf_counter()
            sent, seen = frames(self.live, seen)
            for message in sent:
                self._post(message)
            time.sleep(max(0.0, 1 / FPS - (time.perf_counter() - started)))

    def _post(self, message: dict[str, Any]) -> None:
        if not self._closed.is_set():
            self.send({"text": json.dumps(message)})
