"""Building the native program: once per machine and source, cached on disk.

``program.cpp`` needs no headers beyond the C++ standard library, so the system's compiler
builds it in about three seconds (torch's extension tools, which compile against torch's
headers, take most of a minute). The shared library is kept under the cache folder
(``$NNKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/nnkit``, else ``~/.cache/nnkit``), named by a
hash of the source, the compiler's version, the flags and the processor's features: later runs
load it in milliseconds; a changed source or another kind of machine gets its own. It is
written under a temporary name and renamed, so runs that build it at the same time (a sweep's
jobs) never load half a file.

Where no compiler works, ``load()`` says why in one line (``NativeUnavailable``) and the
training runs its eager step.

>>> isinstance(load(), ctypes.CDLL) or True
True
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("program.cpp")
FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fPIC", "-shared", "-std=c++17")


class NativeUnavailable(RuntimeError):
    """The native program cannot be built or loaded here; the message says why, in one line."""


def cache_dir() -> Path:
    """Where built programs are kept."""
    if os.environ.get("NNKIT_CACHE_DIR"):
        return Path(os.environ["NNKIT_CACHE_DIR"]) / "native"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nnkit" / "native"


def compiler() -> str:
    """The C++ compiler: ``$CXX``, else the first of c++, g++, clang++ on the PATH."""
    chosen = os.environ.get("CXX")
    if chosen:
        return chosen
    for name in ("c++", "g++", "clang++"):
        if shutil.which(name):
            return name
    raise NativeUnavailable("no C++ compiler found (install g++, or name one in $CXX)")


def _cpu_features() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _version(cxx: str) -> str:
    try:
        done = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NativeUnavailable(f"the C++ compiler {cxx!r} does not run ({error})") from None
    if done.returncode != 0:
        raise NativeUnavailable(f"the C++ compiler {cxx!r} does not run: {done.stderr.strip()}")
    return done.stdout


def library_path(cxx: str) -> Path:
    """The cached library's path for this source, compiler, flags and processor."""
    key = hashlib.sha256()
    for part in (SOURCE.read_text(), _version(cxx), " ".join(FLAGS), _cpu_features()):
        key.update(part.encode())
    return cache_dir() / f"program-{platform.machine()}-{key.hexdigest()[:16]}.so"


def build(cxx: str, target: Path, flags: tuple[str, ...] = FLAGS, source: Path = SOURCE) -> None:
    """Compile ``source`` (the program) with ``flags`` into ``target`` (through a temporary
    file, then renamed: runs that build it at the same time never load half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, suffix=f"{target.suffix}.partial")
    os.close(handle)
    try:
        done = subprocess.run(
            [cxx, *flags, "-o", partial, str(source)], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise NativeUnavailable(f"the C++ compiler {cxx!r} failed: {first}")
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)


def load() -> ctypes.CDLL:
    """The native program, built first if this machine has no copy yet (a failure is
    remembered too: it is not retried for every run of a process)."""
    loaded = _load(os.environ.get("CXX"), str(cache_dir()))
    if isinstance(loaded, NativeUnavailable):
        raise loaded
    return loaded


@functools.cache
def _load(cxx_setting: str | None, folder: str) -> ctypes.CDLL | NativeUnavailable:
    try:
        return _build_and_load()
    except NativeUnavailable as error:
        return error


def _build_and_load() -> ctypes.CDLL:
    cxx = compiler()
    path = library_path(cxx)
    if not path.exists():
        build(cxx, path)
    try:
        library = ctypes.CDLL(str(path))
    except OSError as error:
        raise NativeUnavailable(f"the native program does not load ({error})") from None
    if library.nnkit_abi_version() != abi_version():
        raise NativeUnavailable(f"{path} is of another version; delete it to rebuild")
    return library


@functools.cache
def abi_version() -> int:
    """The interface's version, as ``program.cpp`` states it (``nnkit_abi_version``)."""
    found = re.search(r"nnkit_abi_version\(\) \{ return (\d+);", SOURCE.read_text())
    assert found is not None, f"{SOURCE} states no nnkit_abi_version"
    return int(found[1])


def unavailable_reason() -> str | None:
    """Why the native program cannot run here, or None when it can."""
    try:
        load()
    except NativeUnavailable as error:
        return str(error)
    return None
