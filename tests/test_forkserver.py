"""The tests' forked commands (``tests.forkserver``) stand for fresh ``python -m`` runs."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests import forkserver

PROBE = """
import os, sys
print(os.getcwd(), sys.argv[1:], sys.path[0], os.environ["NNKIT_PROBE"], repr(sys.stdin.read()))
print("to stderr", file=sys.stderr)
if sys.argv[1] == "divide":
    1 / 0
sys.exit(sys.argv[1] if sys.argv[1] != "int" else 3)
"""


def both(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """The probe module run forked and fresh, from another folder, found on PYTHONPATH."""
    (tmp_path / "modules").mkdir(exist_ok=True)
    (tmp_path / "modules" / "nnkit_probe.py").write_text(PROBE)
    (tmp_path / "work").mkdir(exist_ok=True)
    env = forkserver.command_env({"PYTHONPATH": str(tmp_path / "modules"), "NNKIT_PROBE": "seen"})
    cwd = tmp_path / "work"
    assert forkserver.warm_safe(env)  # forked indeed, not a fresh interpreter again
    forked = forkserver.run(["nnkit_probe", *args], cwd, env, 60)
    fresh = subprocess.run([sys.executable, "-m", "nnkit_probe", *args], cwd=cwd, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    return forked, fresh


@pytest.mark.parametrize("how", ["int", "a message"])
def test_a_forked_command_sees_and_exits_as_a_fresh_interpreter(tmp_path, how):
    forked, fresh = both(tmp_path, how)
    assert forked.returncode == fresh.returncode == (3 if how == "int" else 1)
    assert forked.stdout == fresh.stdout and str(tmp_path / "work") in forked.stdout
    assert forked.stderr == fresh.stderr


def test_an_uncaught_error_prints_its_traceback_and_exits_1(tmp_path):
    forked, fresh = both(tmp_path, "divide")
    assert forked.returncode == fresh.returncode == 1
    assert forked.stderr.splitlines()[-1] == fresh.stderr.splitlines()[-1]
    assert "ZeroDivisionError: division by zero" in forked.stderr


def test_a_command_past_its_timeout_is_killed(tmp_path):
    (tmp_path / "nnkit_sleeper.py").write_text("import time\nprint('started', flush=True)\n"
                                               "time.sleep(60)\n")  # fmt: skip
    env = forkserver.command_env({"PYTHONPATH": str(tmp_path)})
    assert forkserver.warm_safe(env)
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as expired:
        forkserver.run(["nnkit_sleeper"], tmp_path, env, timeout=2)
    assert time.monotonic() - started < 30 and expired.value.output == "started\n"


def test_an_environment_read_at_import_goes_to_a_fresh_interpreter():
    base = forkserver.BASE_ENV
    assert forkserver.warm_safe({**base, "NNKIT_RUNS": "/tmp/x", "PYTHONPATH": "/tmp"})
    assert not forkserver.warm_safe({**base, "OMP_NUM_THREADS": "1"})
    assert not forkserver.warm_safe({k: v for k, v in base.items() if k != "HOME"})


def test_the_exit_waits_for_running_threads_as_the_interpreter_does(tmp_path):
    (tmp_path / "nnkit_threaded.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.5), print('joined'))).start()\n"
        "print('main done', flush=True)\n"
    )
    env = forkserver.command_env({"PYTHONPATH": str(tmp_path)})
    assert forkserver.warm_safe(env)
    forked = forkserver.run(["nnkit_threaded"], tmp_path, env, 60)
    assert forked.returncode == 0 and forked.stdout == "main done\njoined\n"
