"""A tab's live run: its ``Session``, trained while the page plays by the server's one
training thread (``Trainer``), which takes every playing tab in turn, a chunk of about
``CHUNK_S`` each, handing each session to a waiting frame or control in between.

One thread for every tab, not one each: with a thread per tab, N training threads and the
server's event loop share Python's lock, and the loop — frames, controls — waits its turn
behind all of them (8 tabs: 2 frames a second each, a control shown after ~1 s; docs:
Playground). With one, the loop shares it with one thread whatever the number of tabs, and a
paused or hidden tab frees its share for the others.

>>> live = Live(["data=circular", "data.n=100", "model.hidden=[3]"])
>>> session = live.build({"optimizer.lr": 0.1})
>>> live.close()
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from nnkit.errors import USER_ERRORS, DivergenceError, one_line
from nnkit.playground.session import Session
from nnkit.playground.settings import merged
from nnkit.playground.step_panel import ARTICLE, set_article_weights

CHUNK_S = 0.02  # the training thread holds a session this long at a time
TRAINING_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, DivergenceError)


class Trainer:
    """The one thread that trains every playing tab (``Live``) in turn."""

    def __init__(self) -> None:
        self.lives: list[Live] = []
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, live: Live) -> None:
        with self._guard:
            self.lives.append(live)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()

    def remove(self, live: Live) -> None:
        with self._guard:
            if live in self.lives:
                self.lives.remove(live)

    def _run(self) -> None:
        while True:
            with self._guard:
                playing = [live for live in self.lives if live.playing.is_set()]
            if not playing:
                time.sleep(0.02)
            for live in playing:
                live.train_chunk()


TRAINER = Trainer()  # the process's: every tab of a server shares it


class Live:
    """A session, trained by ``trainer`` while ``playing``; a page whose settings are the
    command line's own opens at ``checkpoint`` (``ckpt=``) where there is one."""

    def __init__(
        self,
        base: Sequence[str],
        checkpoint: dict[str, Any] | None = None,
        trainer: Trainer = TRAINER,
    ) -> None:
        self.base, self.checkpoint, self.trainer = list(base), checkpoint, trainer
        self.session: Session | None = None
        self.announced: Session | None = None  # the session whose "built" the page was sent
        self.playing = threading.Event()
        self.resume_after_idle = False  # playing when its tab was hidden
        self.error: str | None = None
        self.chunk = 1  # minibatches trained per hold of the session's lock (see _pace)
        self.frame_waiting = threading.Event()
        trainer.add(self)

    def build(self, settings: dict[str, Any], example: Any = None) -> Session:
        """A new run of the page's ``settings``; ``example="article"``: the article's worked
        example instead (its 2-2-1 network and weights)."""
        self.playing.clear()
        if example not in (None, "article"):
            raise ValueError(f"example={example!r} is not known (choose from: article)")
        if example == "article":
            session = Session([*self.base, *ARTICLE])
            set_article_weights(session)
        else:
            session = Session(merged(self.base, settings))
            if self.checkpoint is not None and not settings:
                session.restore(self.checkpoint)
        self.session = session
        return session

    def train_chunk(self) -> None:
        """One chunk of the session's training (the trainer's turn for this tab)."""
        session = self.session
        if session is None or not self.playing.is_set():
            return
        try:
            with session.lock:
                started = time.perf_counter()
                session.advance(self.chunk)
                self._pace(time.perf_counter() - started)
            while self.frame_waiting.is_set():  # someone waits for the session: let them in
                time.sleep(0.0001)
        except TRAINING_ERRORS as error:
            self.error = one_line(str(error))  # divergence: nnkit's line
            self.playing.clear()
        except Exception as error:  # a plugin's failure ends this session, not the server
            self.stop(error)

    def idle(self, hidden: bool) -> None:
        """The tab was hidden (its training pauses, its share goes to the others) or shown
        again (it plays on if it played when hidden)."""
        if hidden:
            self.resume_after_idle = self.playing.is_set()
            self.playing.clear()
        elif self.resume_after_idle:
            self.resume_after_idle = False
            self.playing.set()

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

    def stop(self, error: Exception) -> None:
        """Pause on a failure that is not nnkit's (a plugin's), its line the next error sent."""
        self.playing.clear()
        self.error = f"training stopped: {type(error).__name__}: {one_line(str(error))}"

    def close(self) -> None:
        self.playing.clear()
        self.trainer.remove(self)
