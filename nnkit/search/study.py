"""The study a search shares: its storage, made robust for several workers and a database
that may restart, and the calls to it retried while the database is away.

A database URL (``sqlite:///...``, ``postgresql://...``) becomes an ``RDBStorage`` whose
connections are checked before use (a restarted server leaves dead ones in the pool); with
``heartbeat_interval`` each running trial's worker beats, and a trial whose worker stopped
beating for ``grace_period`` seconds is FAILED (and run again ``retry_failed_trials`` times)
by the next worker that asks for a trial. ``None`` keeps the study in memory, reachable by
jobs that run in the sweeper's own process (Hydra's basic launcher).

>>> storage(None, None, None, 0) is None
True
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import optuna

IN_PROCESS: dict[str, optuna.Study] = {}  # in-memory studies, by name, for in-process jobs
RETRY_SECONDS = 120.0  # how long a call waits for a database that went away
T = TypeVar("T")


def storage(
    url: Any, heartbeat_interval: int | None, grace_period: int | None, retries: int
) -> optuna.storages.BaseStorage | str | None:
    """The storage for ``url``: an ``RDBStorage`` for a database URL, ``url`` itself for
    anything else Optuna takes (a storage object, a journal file), None for memory."""
    if not isinstance(url, str) or not url.startswith(("sqlite:", "postgresql", "mysql")):
        return url
    retry = optuna.storages.RetryFailedTrialCallback(max_retry=retries) if retries else None
    return retried(
        lambda: optuna.storages.RDBStorage(
            url,
            engine_kwargs={"pool_pre_ping": True},
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=retry,
        ),
        "connecting",
    )


def retried(call: Callable[[], T], what: str) -> T:
    """``call()``, tried again for up to ``RETRY_SECONDS`` while the database cannot be
    reached (a server restarting); other errors pass at once."""
    from sqlalchemy.exc import DBAPIError

    deadline, pause = time.monotonic() + RETRY_SECONDS, 0.25
    while True:
        try:
            return call()
        except (optuna.exceptions.StorageInternalError, DBAPIError) as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the study's database is unreachable ({what}): {error}"
                ) from error
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


class Heartbeats:
    """Beats for the trials this worker runs, every ``interval`` seconds, from a thread, for
    as long as the ``with`` block lasts (a launcher batch)."""

    def __init__(self, study: optuna.Study, trial_ids: Iterable[int]) -> None:
        self._storage = study._storage
        self._trial_ids = list(trial_ids)
        self._interval = heartbeat_interval(self._storage)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="nnkit-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeats:
        if self._interval:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.is_set():
            for trial_id in self._trial_ids:
                with contextlib.suppress(Exception):  # the database away: beat again next time
                    self._storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
            self._stop.wait(self._interval)


def fail_stale_trials(study: optuna.Study) -> None:
    """FAIL the running trials of workers that stopped beating (and queue their retries)."""
    if heartbeat_interval(study._storage):
        retried(lambda: optuna.storages.fail_stale_trials(study), "failing stale trials")


def heartbeat_interval(store: Any) -> int | None:
    """Seconds between a running trial's heartbeats in ``store``; None where it keeps none."""
    interval = getattr(store, "get_heartbeat_interval", None)
    return interval() if interval is not None else None
