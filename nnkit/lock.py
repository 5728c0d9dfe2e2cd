"""One run per run folder: a lock file that a second run into the same folder refuses on.

The lock holds the owner's process id. A lock left by a process that no longer exists (a run
killed with SIGKILL) is taken over; a process started by the owner (Lightning's DDP workers
re-run the command line) shares it.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder, run_lock(Path(folder) / "run"):
...     pass
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from nnkit.errors import ConfigError

LOCK_NAME = ".nnkit.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock while the block runs (creating the folder); a live run holding
    it already is a one-line ``ConfigError``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"run folder {folder} cannot be created: {error}") from None
    lock = folder / LOCK_NAME
    mine = False
    while not mine:
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            owner = _owner(lock)
            if owner in (os.getpid(), os.getppid()):
                break  # this run's own process, or its DDP parent
            if owner is not None and _alive(owner):
                raise ConfigError(
                    f"run folder {folder} is in use by another run (process {owner}); wait "
                    f"for it, or choose another hydra.run.dir"
                ) from None
            lock.unlink(missing_ok=True)  # left by a run that no longer exists
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(str(os.getpid()))
        mine = True
    try:
        yield
    finally:
        if mine:
            lock.unlink(missing_ok=True)
