"""``python -m MODULE ARGS`` for the tests, each in its own process, without paying the imports.

A fresh interpreter spends about 7 s of CPU importing torch and Lightning before nnkit's first
line runs, and the suite runs its commands by the hundred. So each test worker starts one
server that imports those frameworks once (never nnkit, never a plugin, never a test module)
and forks one child per command. The child takes the command's working folder, environment,
``sys.path`` (its folder, then ``PYTHONPATH``, then the interpreter's own) and stdin from
``/dev/null``; it runs the module as ``python -m`` does (``runpy``, as ``__main__``), writes
to its own stdout and stderr files and exits with the code ``python -m`` would.

What a warm interpreter cannot stand for goes to a fresh one (``subprocess``): another
Python, an environment variable that code already imported might have read (anything but
``WARM_SAFE``), or ``FRESH_ARGUMENTS``. Tests of what a fresh interpreter imports, of
signals and of servers start their processes themselves.

Run as a script, this file is the server: ``python tests/forkserver.py SOCKET``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

PRELOADED = ("torch", "pytorch_lightning", "hydra", "omegaconf", "tensorboard")
# Read when used, never at import: the search path, the compiler, Hydra's error switch, the test,
# and what torch and Lightning set in the tests' own process as they run there (the seed, CUDA's
# options, DDP's rendezvous, the compiler's cache: a child started from it inherits them).
WARM_SAFE = {"PYTHONPATH", "PATH", "CXX", "HYDRA_FULL_ERROR", "PYTEST_CURRENT_TEST",
             "CUBLAS_WORKSPACE_CONFIG", "CUDA_DEVICE_ORDER", "MASTER_ADDR", "MASTER_PORT",
             "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "PYTORCH_NVML_BASED_CUDA_CHECK",
             "TORCHINDUCTOR_CACHE_DIR", "_TORCHINDUCTOR_PYOBJECT_TENSOR_DATA_PTR",
             "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"}  # fmt: skip
WARM_SAFE_PREFIXES = ("NNKIT_", "PL_")
BASE_ENV = dict(os.environ)  # the test worker's, before any test changed it
# Hydra's joblib launcher: its loky workers, started from a forked child, hung on CI until the
# sweep's timeout (they do not locally); its sweeps get a fresh interpreter.
FRESH_ARGUMENTS = {"hydra/launcher=joblib"}


def run(
    argv: list[str], cwd: Path | None, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """``python -m argv[0] argv[1:]`` in ``cwd`` with exactly ``env``, output captured as text;
    raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds, as ``subprocess.run``."""
    if not warm_safe(env) or any(a in FRESH_ARGUMENTS for a in argv):
        return subprocess.run(
            [sys.executable, "-m", *argv], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
    return _server().run(argv, Path(cwd or os.getcwd()), env, timeout)


def warm_safe(env: dict[str, str]) -> bool:
    """Whether a warm child can run with ``env``: it differs from the environment the server
    imported in only where nothing imported has read it yet."""
    changed = {k for k in env.keys() | BASE_ENV.keys() if env.get(k) != BASE_ENV.get(k)}
    return all(k in WARM_SAFE or k.startswith(WARM_SAFE_PREFIXES) for k in changed)


class _Client:
    """This test worker's forkserver: its socket and process, and the folder of its outputs."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="nnkit-forkserver-"))
        self.address = str(self.folder / "socket")
        self.commands = 0
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.address], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, env=BASE_ENV,
        )  # fmt: skip
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()  # the server prints once it listens
        assert ready.strip() == b"ready", ready
        atexit.register(self.close)

    def run(
        self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", *argv]
        self.commands += 1
        out, err = (self.folder / f"{self.commands}.{name}" for name in ("out", "err"))
        out.touch(), err.touch()
        request = {"argv": argv, "cwd": str(cwd), "env": env, "out": str(out), "err": str(err)}
        with socket.socket(socket.AF_UNIX) as link:
            link.connect(self.address)
            link.sendall(json.dumps(request).encode() + b"\n")
            replies = link.makefile("rb")
            pid = json.loads(replies.readline())["pid"]
            link.settimeout(timeout)
            try:
                code = json.loads(replies.readline())["code"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(command, timeout, *_read(out, err)) from None
        return subprocess.CompletedProcess(command, code, *_read(out, err))

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        for file in self.folder.iterdir():
            file.unlink()
        self.folder.rmdir()


def _read(out: Path, err: Path) -> tuple[str, str]:
    """The command's stdout and stderr, read once: their files are removed."""
    texts = out.read_text(errors="replace"), err.read_text(errors="replace")
    out.unlink(), err.unlink()
    return texts


_CLIENT: _Client | None = None


def _server() -> _Client:
    global _CLIENT
    if _CLIENT is None or _CLIENT.process.poll() is not None:
        _CLIENT = _Client()
    return _CLIENT


# The server's side.


def serve(address: str) -> None:
    """Import the frameworks, then fork a child for each request until killed."""
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    own = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    base = [p for p in sys.path[1:] if p not in own]  # sys.path[0]: this file's folder
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(address)
    listener.listen(16)
    waiting: dict[int, socket.socket] = {}  # child pid: the connection told its exit
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    print("ready", flush=True)
    parent = os.getppid()
    while os.getppid() == parent:  # the test worker that started it is alive
        if selector.select(timeout=0.02):
            link, _ = listener.accept()
            request = json.loads(link.makefile("rb").readline())
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                listener.close()
                link.close()
                _child(request, base)
            link.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            waiting[pid] = link
        _reap(waiting)


def _reap(waiting: dict[int, socket.socket]) -> None:
    for pid in list(waiting):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            with waiting.pop(pid) as link, contextlib.suppress(OSError):  # gone: it timed out
                link.sendall(json.dumps({"code": os.waitstatus_to_exitcode(status)}).encode())


def _child(request: dict, base: list[str]) -> None:
    """Become ``python -m MODULE ARGS``; never returns."""
    import importlib
    import runpy

    code = 1
    try:
        for path, fd, flags in [(os.devnull, 0, os.O_RDONLY), (request["out"], 1, os.O_WRONLY),
                                (request["err"], 2, os.O_WRONLY)]:  # fmt: skip
            opened = os.open(path, flags)
            os.dup2(opened, fd)
            os.close(opened)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [request["cwd"], *extra, *base]
        sys.path_importer_cache.clear()
        importlib.invalidate_caches()
        module, *args = request["argv"]
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:
        traceback.print_exc()
    finally:
        try:  # the interpreter's own exit: join the threads, then the atexit handlers
            threading._shutdown()  # type: ignore[attr-defined]
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _exit_code(code: object) -> int:
    """The status ``python`` exits with for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    serve(sys.argv[1])
