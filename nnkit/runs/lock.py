"""One run per run folder: a lock file that a second, unrelated run into the same folder refuses
on, and that every rank of the same run shares.

The lock names its owner: process id, host and job (``nnkit.runs.launch``). A process of the same
job — an ``srun`` or ``torchrun`` rank, or a worker Lightning's DDP spawn started — shares it;
a lock left by a process that no longer exists on this host (a run killed with SIGKILL) is
taken over; any other live owner is a one-line refusal. The lock is created whole (written to
a temporary file, then linked into place), so a rank never reads a half-written one.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder, run_lock(Path(folder) / "run"):
...     pass
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnkit.errors import ConfigError
from nnkit.runs.launch import Launch, current

LOCK_NAME = ".nnkit.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(lock: Path) -> dict[str, Any] | None:
    """The lock's owner (``pid``, ``host``, ``job``); a bare pid from older locks is read too."""
    try:
        text = lock.read_text().strip()
    except OSError:
        return None
    try:
        owner = json.loads(text)
    except ValueError:
        return None
    if isinstance(owner, int):
        return {"pid": owner, "host": socket.gethostname(), "job": f"pid-{owner}"}
    return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None


def _create(lock: Path, owner: dict[str, Any]) -> bool:
    """Create ``lock`` holding ``owner``, whole; False if it exists already."""
    handle, temporary = tempfile.mkstemp(dir=lock.parent, prefix=".nnkit.lock.")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(owner, file)
        os.link(temporary, lock)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)


def _shares(owner: dict[str, Any], launch: Launch) -> bool:
    """Whether the lock's owner is this run: this process, or another process of the same
    launched job (an ``srun`` or ``torchrun`` rank, a Lightning DDP worker of its parent)."""
    if owner.get("host") == socket.gethostname() and owner["pid"] == os.getpid():
        return True
    return launch.multi_process and owner.get("job") == launch.job


def _refuse_if_live(owner: dict[str, Any], folder: Path) -> None:
    here = owner.get("host", socket.gethostname()) == socket.gethostname()
    if here and not _alive(owner["pid"]):
        return  # left by a run that no longer exists: taken over
    where = "" if here else f" on {owner['host']}"
    raise ConfigError(
        f"run folder {folder} is in use by another run (process {owner['pid']}{where}, job "
        f"{owner.get('job')}); wait for it, or choose another hydra.run.dir"
    )


@contextlib.contextmanager
def run_lock(folder: Path, launch: Launch | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock while the block runs (creating the folder); a live, unrelated run
    holding it already is a one-line ``ConfigError``."""
    launch = launch or current()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"run folder {folder} cannot be created: {error}") from None
    lock = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "job": launch.job}
    mine = False
    while not mine:
        if _create(lock, me):
            mine = True
            break
        owner = _owner(lock)
        if owner is not None and _shares(owner, launch):
            break
        if owner is not None:
            _refuse_if_live(owner, folder)
        lock.unlink(missing_ok=True)  # stale, or unreadable
    try:
        yield
    finally:
        if mine:
            lock.unlink(missing_ok=True)
