"""A tab's live run: its ``Session``, and the thread that trains it while the page plays — in
chunks of about ``CHUNK_S``, handing the session to a waiting frame or control in between.

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


class Live:
    """A session and the thread that trains it while ``playing``; a page whose settings are
    the command line's own opens at ``checkpoint`` (``ckpt=``) where there is one."""

    def __init__(self, base: Sequence[str], checkpoint: dict[str, Any] | None = None) -> None:
        self.base, self.checkpoint = list(base), checkpoint
        self.session: Session | None = None
        self.playing = threading.Event()
        self.stopped = threading.Event()
        self.error: str | None = None
        self.chunk = 1  # minibatches trained per hold of the session's lock (see _pace)
        self.frame_waiting = threading.Event()
        self.thread = threading.Thread(target=self._train, daemon=True)
        self.thread.start()

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
                    time.sleep(0.0001)
            except TRAINING_ERRORS as error:
                self.error = one_line(str(error))  # divergence: nnkit's line
                self.playing.clear()
            except Exception as error:  # a plugin's failure ends this session, not the server
                self.stop(error)

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
        self.stopped.set()
        self.playing.clear()
