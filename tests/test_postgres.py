"""An Optuna study in a real PostgreSQL server, started by the test in a temporary folder: two
sweep processes search the same study in parallel (the way one search spreads over several
machines) and its trials add up; running the sweep again continues the study."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1, in a temporary folder; its SQLAlchemy URL."""
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
    subprocess.run([*as_owner, str(binaries / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "nnkit"], **run)  # fmt: skip
    subprocess.run([*as_owner, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(folder / "log"), "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start"],
                   **run)  # fmt: skip
    try:
        yield f"postgresql://nnkit@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_owner, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True, timeout=120)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def trials(url: str, study: str) -> int:
    import optuna

    finished = optuna.load_study(study_name=study, storage=url).trials
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in finished)


def sweep(url: str, study: str, folder: Path, n_trials: int) -> list[str]:
    return [sys.executable, "-m", "nnkit.train", "-m", *TINY, f"hydra.sweeper.storage={url}",
            f"hydra.sweeper.study_name={study}", f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweep.dir={folder}"]  # fmt: skip


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
