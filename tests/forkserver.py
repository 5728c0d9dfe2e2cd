"""``python -m MODULE ARGS`` for the tests, each in its own process, without paying the imports.

A fresh interpreter spends about 7 s of CPU importing torch and Lightning before nnkit's first
line runs, and the suite runs its commands by the hundred. So each test worker keeps the
standard library's fork server (``multiprocessing``'s "forkserver" start method) with those
frameworks preloaded — never nnkit, never a plugin — and each command is a process forked from
it. The child takes the command's working folder, environment, ``sys.path`` (its folder, then
``PYTHONPATH``, then the interpreter's own) and stdin from ``/dev/null``; it runs the module as
``python -m`` does (``runpy``, as ``__main__``), writes to its own stdout and stderr files and
exits with the code ``python -m`` would (``multiprocessing`` joins its threads on the way out;
``atexit`` handlers do not run in its children, and nnkit registers none).

A command's environment is the test worker's as it started (``BASE_ENV``) and what the test
gives it. What the preloaded frameworks may have read at import must not change under them, so
a command that sets anything but ``PYTHONPATH`` (the child puts it on ``sys.path``), ``CXX``
and nnkit's own ``NNKIT_*`` (read by nnkit alone, which the server never imports) runs in a
fresh interpreter (``subprocess``), as does one with ``FRESH_ARGUMENTS``. Tests of what a fresh
interpreter imports, of signals and of servers start their processes themselves.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path

PRELOADED = ["torch", "pytorch_lightning", "hydra", "omegaconf", "tensorboard"]
WARM_SAFE = {"PYTHONPATH", "CXX"}  # read when a command runs, never at the frameworks' import
WARM_SAFE_PREFIX = "NNKIT_"
BASE_ENV = dict(os.environ)  # the test worker's, before any test changed it
# Hydra's joblib launcher: its loky workers, started from a forked child, hung on CI until the
# sweep's timeout (they do not locally); its sweeps get a fresh interpreter.
FRESH_ARGUMENTS = {"hydra/launcher=joblib"}

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOADED)


def command_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A command's environment: the worker's as it started, and the test's ``extra``."""
    return {**BASE_ENV, **(extra or {})}


def run(
    argv: list[str], cwd: Path | None, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """``python -m argv[0] argv[1:]`` in ``cwd`` with exactly ``env``, output captured as text;
    raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds, as ``subprocess.run``."""
    command = [sys.executable, "-m", *argv]
    if not warm_safe(env) or any(a in FRESH_ARGUMENTS for a in argv):
        return subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    with tempfile.TemporaryDirectory(prefix="nnkit-command-") as folder:
        out, err = Path(folder, "out"), Path(folder, "err")
        request = {"argv": argv, "cwd": str(cwd or os.getcwd()), "env": env, "out": str(out),
                   "err": str(err), "path": _interpreter_path()}  # fmt: skip
        process = _CONTEXT.Process(target=_command, args=(json.dumps(request),))
        with _base_environment():  # the fork server, started by the first command, imports in it
            process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(command, timeout, *_read(out, err))
        assert process.exitcode is not None  # joined
        return subprocess.CompletedProcess(command, process.exitcode, *_read(out, err))


def warm_safe(env: dict[str, str]) -> bool:
    """Whether a forked child can run with ``env``: it differs from the environment the server
    imported in only where nothing imported has read it yet."""
    changed = {k for k in env.keys() | BASE_ENV.keys() if env.get(k) != BASE_ENV.get(k)}
    return all(k in WARM_SAFE or k.startswith(WARM_SAFE_PREFIX) for k in changed)


@contextmanager
def _base_environment():
    """``BASE_ENV`` as ``os.environ`` for the block (whatever in-process runs set meanwhile)."""
    now = dict(os.environ)
    os.environ.clear()
    os.environ.update(BASE_ENV)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(now)


@functools.cache
def _interpreter_path() -> list[str]:
    """The interpreter's own ``sys.path`` (what ``python -m`` has after its folder and
    ``PYTHONPATH``)."""
    env = {k: v for k, v in BASE_ENV.items() if k != "PYTHONPATH"}
    shown = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"],
        cwd="/", env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(shown.stdout)


def _read(out: Path, err: Path) -> tuple[str, str]:
    """The command's stdout and stderr (empty where it was killed before it wrote any)."""
    texts = [f.read_text(errors="replace") if f.exists() else "" for f in (out, err)]
    return texts[0], texts[1]


def _command(request_json: str) -> None:
    """Become ``python -m MODULE ARGS`` in the forked child; ends it with the exit code."""
    request = json.loads(request_json)
    written = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for path, fd, flags in [(os.devnull, 0, os.O_RDONLY), (request["out"], 1, written),
                            (request["err"], 2, written)]:  # fmt: skip
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [request["cwd"], *extra, *request["path"]]
    sys.path_importer_cache.clear()  # folders made since the server imported may hold modules
    importlib.invalidate_caches()
    module, *args = request["argv"]
    sys.argv = [module, *args]
    code: str | int | None = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, str | int | None) else str(stop.code)
    except BaseException:
        traceback.print_exc()
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
