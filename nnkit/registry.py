"""One small registry type, used for activations, losses, datasets and models.

A registry maps names to objects. Registering returns the object unchanged, so it works as a
decorator; a lookup takes a name *or* an object and passes objects through; an unknown name
fails with one line that lists every valid name and the closest match.

>>> shapes = Registry("shape")
>>> @shapes.register("square")
... def square(side: float) -> float:
...     return side * side
>>> shapes.get("square")(3.0)
9.0
>>> shapes.get("sqare")
Traceback (most recent call last):
...
nnkit.registry.UnknownNameError: unknown shape 'sqare' — did you mean 'square'? (available: square)
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

BUILTIN = "built-in"


class RegistryError(Exception):
    """A registry was used wrongly: a taken name, or an object of the wrong type."""


class UnknownNameError(KeyError, RegistryError):
    """A name that is not in the registry. Its message is one line with the valid choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object and where it came from ("built-in", "module x", "package p 1.0")."""

    name: str
    obj: T
    source: str


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`` — did you mean 'X'?`` for the closest valid name, or nothing if none is close.

    >>> did_you_mean("sigmiod", ["relu", "sigmoid"])
    " — did you mean 'sigmoid'?"
    """
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return f" — did you mean '{close[0]}'?" if close else ""


def unknown_name_message(kind: str, name: str, valid: list[str]) -> str:
    """``unknown KIND 'NAME' — did you mean 'X'? (available: ...)``, on one line.

    >>> unknown_name_message("optimizer", "adma", ["adam", "sgd"])
    "unknown optimizer 'adma' — did you mean 'adam'? (available: adam, sgd)"
    """
    hint = did_you_mean(name, valid)
    return f"unknown {kind} '{name}'{hint} (available: {', '.join(valid) or 'none'})"


def must_be_callable(obj: Any) -> str | None:
    """The default registration check: a class, a function or any callable object."""
    return None if callable(obj) else "must be a class or a function"


def source_of(obj: Any) -> str:
    """Where an object was defined: "built-in" inside nnkit, else "module NAME"."""
    module = getattr(obj, "__module__", None) or type(obj).__module__
    if module == "nnkit" or module.startswith("nnkit."):
        return BUILTIN
    return f"module {module}"


class Registry(Generic[T]):
    """Names mapped to objects of one kind.

    ``discover`` is called once, with the registry, before the first listing or the first
    lookup of a name that is not registered: installed plugins are found there, lazily.
    ``check`` validates each object at registration: it returns what is wrong, or None.

    >>> colours = Registry("colour", check=None)
    >>> _ = colours.register("red", (255, 0, 0), source="module palette")
    >>> colours.names("r*")
    ['red']
    >>> colours.source("red")
    'module palette'
    """

    def __init__(
        self,
        kind: str,
        *,
        discover: Callable[[Registry[T]], None] | None = None,
        check: Callable[[Any], str | None] | None = must_be_callable,
    ) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._unavailable: dict[str, str] = {}
        self._discover = discover
        self._discovered = discover is None
        self._check = check

    def register(
        self,
        name: str,
        obj: T | None = None,
        *,
        override: bool = False,
        source: str | None = None,
    ) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator that does.

        A taken name is an error naming both owners unless ``override=True``. ``source`` says
        where it came from; by default "built-in" for nnkit's own objects, else "module NAME".
        """
        if obj is None:
            return lambda target: self.register(name, target, override=override, source=source)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        problem = self._check(obj) if self._check is not None else None
        if problem:
            raise RegistryError(f"{self.kind} '{name}' {problem}, got {type(obj).__name__}")
        source = source or source_of(obj)
        taken = self._entries.get(name)
        if taken is not None and not override and taken.obj is not obj:
            raise RegistryError(
                f"{self.kind} '{name}' is already registered by {taken.source}; "
                f"{source} cannot replace it without override=True"
            )
        self._entries[name] = Entry(name, obj, source)
        self._unavailable.pop(name, None)
        return obj

    def mark_unavailable(self, name: str, reason: str) -> None:
        """Record that ``name`` exists but could not be loaded, and why."""
        if name not in self._entries:
            self._unavailable[name] = reason

    def get(self, name_or_obj: str | T) -> T:
        """The object registered as ``name_or_obj``; a non-string object passes through."""
        if not isinstance(name_or_obj, str):
            return name_or_obj
        return self.entry(name_or_obj).obj

    def entry(self, name: str) -> Entry[T]:
        """The full entry for ``name`` (object and source)."""
        if name not in self._entries:
            self._run_discovery()
        if name in self._entries:
            return self._entries[name]
        if name in self._unavailable:
            raise UnknownNameError(
                f"{self.kind} '{name}' is unavailable: {self._unavailable[name]}"
            )
        raise UnknownNameError(self.unknown_message(name))

    def unknown_message(self, name: str) -> str:
        """The one-line message for an unknown ``name``: closest match and every valid name."""
        return unknown_name_message(self.kind, name, self.names())

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style wildcard ``pattern``, sorted."""
        self._run_discovery()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def source(self, name: str) -> str:
        """Where ``name`` came from."""
        return self.entry(name).source

    def unavailable(self) -> dict[str, str]:
        """Names whose plugin failed to load, with the reason."""
        self._run_discovery()
        return dict(self._unavailable)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name not in self._entries:
            self._run_discovery()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"

    def snapshot(self) -> tuple[dict[str, Entry[T]], dict[str, str], bool]:
        """The registry's state, for ``restore`` (tests use it so no name leaks between them)."""
        return dict(self._entries), dict(self._unavailable), self._discovered

    def restore(self, state: tuple[dict[str, Entry[T]], dict[str, str], bool]) -> None:
        """Put back a state taken with ``snapshot``."""
        entries, unavailable, discovered = state
        self._entries, self._unavailable, self._discovered = (
            dict(entries),
            dict(unavailable),
            discovered,
        )

    def _run_discovery(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        assert self._discover is not None
        self._discover(self)
