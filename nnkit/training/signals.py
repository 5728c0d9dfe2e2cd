"""Signals during the engine's epoch loop: a run stops at the end of the data epoch under way,
never between an epoch's training and its bookkeeping, even inside one call of the native
program that runs many epochs.

Inside ``deferred_interrupt()`` Ctrl-C is held back until the block ends (then raised as
``KeyboardInterrupt``), and every signal that Python handles — SIGINT, Lightning's SIGTERM
handler, SLURM's requeue signal — also writes a byte to a pipe (``signal.set_wakeup_fd``, at
the instant it arrives, while the program runs); the program reads the pipe after each epoch
and returns early when a byte is there. The block gives back the wakeup fd it found, and the
bytes it read go on to it (an event loop's signal handlers still see their signals).

>>> import select
>>> previous = signal.signal(signal.SIGUSR1, lambda signum, frame: None)
>>> with deferred_interrupt() as interrupt:
...     signal.raise_signal(signal.SIGUSR1)
...     readable = select.select([interrupt.stop_fd], [], [], 0)[0] == [interrupt.stop_fd]
>>> readable, signal.signal(signal.SIGUSR1, previous) is not None
(True, True)
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Interrupt:
    """Whether Ctrl-C was pressed while the block ran, and the pipe's end that a signal makes
    readable (-1 outside the main thread, where Python takes no signals)."""

    requested: bool = False
    stop_fd: int = -1
    forward_fd: int = -1  # the wakeup fd the block found, which its bytes go on to

    def drain(self) -> None:
        """Read the pipe empty, passing its bytes on to the wakeup fd the block found."""
        if self.stop_fd < 0:
            return
        while True:
            try:
                waiting = os.read(self.stop_fd, 512)
            except BlockingIOError:
                return
            if not waiting:
                return
            if self.forward_fd >= 0:
                with contextlib.suppress(OSError):
                    os.write(self.forward_fd, waiting)


@contextmanager
def deferred_interrupt() -> Iterator[Interrupt]:
    """Ctrl-C held back until the block ends, then raised as ``KeyboardInterrupt``; a signal's
    byte readable on ``Interrupt.stop_fd`` meanwhile."""
    interrupt = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return

    def hold(signum: int, frame: Any) -> None:
        interrupt.requested = True

    read, write = os.pipe()
    for end in (read, write):
        os.set_blocking(end, False)
    interrupt.stop_fd = read
    interrupt.forward_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.set_wakeup_fd(interrupt.forward_fd)
        interrupt.drain()
        os.close(read)
        os.close(write)
    if interrupt.requested:
        raise KeyboardInterrupt
