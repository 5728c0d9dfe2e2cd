"""An Optuna study in a real PostgreSQL server, started by the test in a temporary folder: two
sweep processes search the same study in parallel (the way one search spreads over several
machines) and its trials add up; running the sweep again continues the study; a worker killed
mid-trial leaves that trial FAILED and another worker runs it again; the server restarted
mid-study loses no finished trial and the sweep goes on."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import cli

TINY = [
    "data=circular",
    "data.n=200",
    "trainer.max_epochs=1",
    "trainer.progress_bar=none",
    "logger=none",
    "hydra/sweeper=optuna",
    "optimizer.lr=tag(log,interval(0.001,0.1))",
]


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _refusal() -> str | None:
    if _binaries() is None:
        return "PostgreSQL is not installed (Debian's postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the server as"
    return None


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(_refusal() is not None, reason=str(_refusal())),
]


@dataclass
class Server:
    url: str  # SQLAlchemy's URL of the database
    restart: Callable[[], None]  # stop the server (fast: connections cut) and start it again


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A PostgreSQL server on 127.0.0.1, in a temporary folder."""
    binaries = _binaries()
    assert binaries is not None
    as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="nnkit-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = {"check": True, "capture_output": True, "timeout": 120}
    pg_ctl = [*as_owner, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l",
              str(folder / "log"), "-o", f"-h 127.0.0.1 -p {port} -k {folder}"]  # fmt: skip
    subprocess.run([*as_owner, str(binaries / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "nnkit"], **run)  # fmt: skip
    subprocess.run([*pg_ctl, "start"], **run)
    try:
        yield Server(
            f"postgresql+psycopg://nnkit@127.0.0.1:{port}/postgres",
            lambda: subprocess.run([*pg_ctl, "-m", "fast", "restart"], **run),
        )
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def database(server: Server) -> str:
    return server.url


def trials(url: str, study: str) -> int:
    import optuna

    finished = optuna.load_study(study_name=study, storage=url).trials
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in finished)


def sweep(url: str, study: str, folder: Path, n_trials: int, *more: str) -> list[str]:
    return [sys.executable, "-m", "nnkit.train", "-m", *TINY, f"hydra.sweeper.storage={url}",
            f"hydra.sweeper.study_name={study}", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweep.dir={folder}", *more]  # fmt: skip


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def states(url: str, study: str) -> list[str]:
    import optuna

    return [t.state.name for t in optuna.load_study(study_name=study, storage=url).trials]


def test_two_sweeps_share_one_study_in_parallel_and_a_third_continues_it(database, tmp_path):
    import optuna

    # the study (and the database's tables) exist before the workers start, as Optuna advises:
    # two processes creating the schema at once race
    optuna.create_study(study_name="shared", storage=database, direction="minimize")
    searches = [
        subprocess.Popen(
            sweep(database, "shared", tmp_path / name, 1),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    for search in searches:
        _, err = search.communicate(timeout=300)
        assert search.returncode == 0, err[-3000:]
    assert trials(database, "shared") == 2
    again = cli(*sweep(database, "shared", tmp_path / "c", 1)[2:], timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert trials(database, "shared") == 3


HEARTBEATS = ["hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=3",
              "hydra.sweeper.retry_failed_trials=1"]  # fmt: skip


def test_a_worker_killed_mid_trial_leaves_it_failed_and_another_worker_runs_it_again(
    database, tmp_path
):
    import optuna

    optuna.create_study(study_name="killed", storage=database, direction="minimize")
    line = sweep(database, "killed", tmp_path / "a", 1, *HEARTBEATS, "trainer.max_epochs=500")
    worker = subprocess.Popen(line, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)  # fmt: skip

    def training() -> bool:
        found = optuna.load_study(study_name="killed", storage=database).trials
        return bool(found) and bool(found[0].intermediate_values)

    try:
        wait_until(training, worker, 120)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.communicate()
    time.sleep(4)  # past the grace period: its trial's heartbeat is stale
    again = cli(*sweep(database, "killed", tmp_path / "b", 2, *HEARTBEATS)[2:], timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    killed, *others = optuna.load_study(study_name="killed", storage=database).trials
    assert killed.state.name == "FAIL" and len(others) == 2
    assert all(t.state.name == "COMPLETE" for t in others)
    retry = next(t for t in others if t.system_attrs.get("failed_trial") == killed.number)
    assert retry.params == killed.params


def test_the_server_restarted_mid_study_loses_no_finished_trial(server, tmp_path):
    import optuna

    optuna.create_study(study_name="restarted", storage=server.url, direction="minimize")
    line = sweep(server.url, "restarted", tmp_path, 4, "hydra.sweeper.n_jobs=1",
                 "trainer.max_epochs=20")  # fmt: skip
    worker = subprocess.Popen(line, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: "COMPLETE" in states(server.url, "restarted"), worker, 120)
    found = optuna.load_study(study_name="restarted", storage=server.url).trials
    before = {t.number: t.value for t in found if t.state.name == "COMPLETE"}
    server.restart()
    _, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err[-3000:]
    after = optuna.load_study(study_name="restarted", storage=server.url).trials
    assert [t.state.name for t in after] == ["COMPLETE"] * 4
    assert {n: after[n].value for n in before} == before
