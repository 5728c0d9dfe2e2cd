"""Plugins: activations, losses, datasets, models, optimizers, initializers and schedulers
from outside nnkit.

Three ways in, all filling the same registries:

1. in code, with ``nnkit.register_activation("name")`` (and friends) as a decorator;
2. from the config, ``plugins=[my_module, path/to/file.py]``, imported by ``load_modules``;
3. from installed packages, through entry points in the groups ``nnkit.activations``,
   ``nnkit.losses``, ``nnkit.datasets``, ``nnkit.models``, ``nnkit.optimizers``,
   ``nnkit.initializers`` and ``nnkit.schedulers``, found lazily by
   ``entry_point_discovery``: the first time a registry is listed or misses a name.

An installed plugin that fails to load warns once and is marked unavailable, with its reason.
How plugins load is part of the run's config (``plugin_loading``, see ``LoadingPolicy``):
``plugin_loading.strict=true`` makes a failure an error, ``plugin_loading.discover=false``
skips installed packages, ``plugin_loading.timeout_s`` bounds each import
(``plugin_loading.proof_timeout_s`` the proof of each plugin op before the first step). A
plugin that exits, raises anything (``SystemExit`` and ``KeyboardInterrupt`` included) or
hangs while importing is reported as a broken plugin, never mistaken for a finished run.

>>> load_modules([])
[]
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnkit.errors import Notice, PluginError

if TYPE_CHECKING:
    from nnkit.registry import Registry


class PluginWarning(Notice):
    """A plugin package failed to load; nnkit goes on without it."""


@dataclass
class LoadingPolicy:
    """How plugins load; the run's ``plugin_loading`` config section sets it before any name
    is looked up."""

    discover: bool = True  # load installed packages' entry points
    strict: bool = False  # a package that fails to load stops the run instead of warning
    timeout_s: float = 30.0  # an import that takes longer is reported as hanging; 0: no limit
    proof_timeout_s: float = 60.0  # the same for the proof of one op before the first step
    prove: bool = True  # prove plugin ops' gradients before the first step (nnkit.proof.before_run)


POLICY = LoadingPolicy()


def set_policy(discover: bool, strict: bool, timeout_s: float) -> None:
    """Set how plugins load from here on (``nnkit.train`` calls it from the config)."""
    POLICY.discover, POLICY.strict, POLICY.timeout_s = discover, strict, timeout_s


def entry_point_discovery(group: str) -> Callable[[Registry[Any]], None]:
    """A ``discover`` hook for a registry: registers every entry point of ``group``."""

    def discover(registry: Registry[Any]) -> None:
        if not POLICY.discover:
            return
        for entry_point in importlib.metadata.entry_points(group=group):
            _load_entry_point(registry, entry_point)

    return discover


class _Expired(BaseException):
    """Raised inside a time-limited block: no ``except Exception`` in it can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float, message: str) -> Iterator[None]:
    """Raise ``PluginError(message)`` if the block runs longer than ``seconds`` (0: no limit;
    bounded in the main thread of a POSIX process only, elsewhere the block runs unbounded):
    what keeps a plugin that hangs from hanging nnkit.

    >>> with time_limit(5, "too slow"):
    ...     pass
    """
    limit = seconds
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not limit or not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    except _Expired:
        raise PluginError(message) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _hangs(what: str) -> str:
    return f"{what} did not finish importing within {POLICY.timeout_s:g} s (it hangs?)"


def _what_it_did(error: BaseException) -> str:
    """A plugin's failure in words: exits and interrupts are named as such."""
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r}) while importing"
    if isinstance(error, KeyboardInterrupt):
        return "raised KeyboardInterrupt while importing"
    return f"{type(error).__name__}: {error}"


def _load_entry_point(registry: Registry[Any], entry_point: importlib.metadata.EntryPoint) -> None:
    dist = entry_point.dist
    package = f"{dist.name} {dist.version}" if dist is not None else "an unknown package"
    what = f"plugin package '{package}' (entry point {entry_point.group}: {entry_point.name})"
    try:
        with time_limit(POLICY.timeout_s, _hangs(what)):
            obj = entry_point.load()
        registry.register(entry_point.name, obj, source=f"package {package}")
    except BaseException as error:  # a plugin's own failure must not break nnkit
        detail = str(error) if isinstance(error, PluginError) else _what_it_did(error)
        reason = (
            f"plugin package '{package}' (entry point {entry_point.group}: "
            f"{entry_point.name} = {entry_point.value}) failed to load: {detail}"
        )
        if POLICY.strict:
            raise PluginError(reason) from error
        warnings.warn(reason, PluginWarning, stacklevel=2)
        registry.mark_unavailable(entry_point.name, reason)


def load_modules(specs: Iterable[str]) -> list[str]:
    """Import plugin modules named in the config: module names or paths to ``.py`` files.

    Returns the imported module names; raises ``PluginError`` with one line on failure.

    >>> load_modules([])
    []
    """
    return [_import_one(spec) for spec in specs]


def _import_one(spec: str) -> str:
    path = Path(spec)
    try:
        with time_limit(POLICY.timeout_s, _hangs(f"plugin module '{spec}'")):
            if spec.endswith(".py") or os.sep in spec:
                return _import_file(path)
            importlib.import_module(spec)
            return spec
    except PluginError:
        raise
    except ModuleNotFoundError as error:
        raise PluginError(
            f"plugin module '{spec}' not found ({error}); give an importable module name "
            f"or a path to a .py file"
        ) from error
    except BaseException as error:  # a plugin that exits or is interrupted is still broken
        raise PluginError(f"plugin module '{spec}' failed: {_what_it_did(error)}") from error


def _import_file(path: Path) -> str:
    if not path.is_file():
        raise PluginError(f"plugin file '{path}' does not exist")
    name = path.stem
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path.resolve()):
        return name
    spec = importlib.util.spec_from_file_location(name, path.resolve())
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin file '{path}' cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return name
