"""Plugins: activations, losses, datasets and models from outside nnkit.

Three ways in, all filling the same registries:

1. in code, with ``nnkit.register_activation("name")`` (and friends) as a decorator;
2. from the config, ``plugins=[my_module, path/to/file.py]``, imported by ``load_modules``;
3. from installed packages, through entry points in the groups ``nnkit.activations``,
   ``nnkit.losses``, ``nnkit.datasets`` and ``nnkit.models``, found lazily by
   ``entry_point_discovery``: the first time a registry is listed or misses a name.

A plugin that fails to load warns once and is marked unavailable, with its reason;
``NNKIT_STRICT_PLUGINS=1`` makes that an error and ``NNKIT_DISABLE_PLUGINS=1`` skips discovery.

>>> sorted(ENTRY_POINT_GROUPS)
['nnkit.activations', 'nnkit.datasets', 'nnkit.losses', 'nnkit.models']
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnkit.registry import Registry

ENTRY_POINT_GROUPS = ("nnkit.activations", "nnkit.losses", "nnkit.datasets", "nnkit.models")


class PluginError(ImportError):
    """A plugin could not be loaded (raised for config plugins, and for all under strict mode)."""


class PluginWarning(UserWarning):
    """A plugin package failed to load; nnkit goes on without it."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def entry_point_discovery(group: str) -> Callable[[Registry[Any]], None]:
    """A ``discover`` hook for a registry: registers every entry point of ``group``."""

    def discover(registry: Registry[Any]) -> None:
        if _flag("NNKIT_DISABLE_PLUGINS"):
            return
        for entry_point in importlib.metadata.entry_points(group=group):
            _load_entry_point(registry, entry_point)

    return discover


def _load_entry_point(registry: Registry[Any], entry_point: importlib.metadata.EntryPoint) -> None:
    dist = entry_point.dist
    package = f"{dist.name} {dist.version}" if dist is not None else "an unknown package"
    try:
        obj = entry_point.load()
        registry.register(entry_point.name, obj, source=f"package {package}")
    except Exception as error:  # a plugin's own failure must not break nnkit
        reason = (
            f"plugin package '{package}' (entry point {entry_point.group}: "
            f"{entry_point.name} = {entry_point.value}) failed to load: "
            f"{type(error).__name__}: {error}"
        )
        if _flag("NNKIT_STRICT_PLUGINS"):
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
    except Exception as error:
        raise PluginError(
            f"plugin module '{spec}' failed to import: {type(error).__name__}: {error}"
        ) from error


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
