"""Checking config values against a registry entry's signature, and typed schemas made from
one: what lets a plugin's dataset, model or optimizer be validated like a built-in.

>>> check_params("dataset", "circular", lambda n=10, radius=0.5: None, {"radus": 1.0})
Traceback (most recent call last):
...
nnkit.errors.ConfigError: unknown parameter 'radus' for dataset 'circular' — did you mean 'radius'? (valid: n, radius)
"""  # noqa: E501

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from nnkit.errors import ConfigError
from nnkit.registry import did_you_mean


def _schema_type(annotation: Any) -> Any:
    """The nearest type OmegaConf can enforce for a parameter's type hint."""
    if annotation in (int, float, bool, str):
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (collections.abc.Sequence, list, tuple) and args and args[0] in (int, float):
        return list[args[0]]  # type: ignore[valid-type]
    return Any


def _copier(default: list[Any] | tuple[Any, ...]) -> Callable[[], list[Any]]:
    """A default factory: a fresh list of ``default``'s items for each instance."""
    return lambda: list(default)


def typed_schema(name: str, fn: Callable[..., Any], skip: int) -> type:
    """A dataclass with ``name`` and one typed field per parameter of ``fn`` after ``skip``.

    >>> def sgd(params, lr: float = 0.1, nesterov: bool = False): ...
    >>> [f.name for f in dataclasses.fields(typed_schema("sgd", sgd, skip=1))]
    ['name', 'lr', 'nesterov']
    """
    hints = _hints(fn)
    fields: list[tuple[str, Any, Any]] = [("name", str, field(default=name))]
    for p in list(inspect.signature(fn).parameters.values())[skip:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind = _schema_type(hints.get(p.name, Any))
        if p.default is inspect.Parameter.empty:
            fields.append((p.name, kind, field(default=dataclasses.MISSING)))
        elif isinstance(p.default, list | tuple):
            fields.append((p.name, kind, field(default_factory=_copier(p.default))))
        else:
            fields.append((p.name, kind, field(default=p.default)))
    return dataclasses.make_dataclass(f"{name}_schema", fields)


def _fits_annotation(value: Any, annotation: Any) -> bool:
    """Whether ``value`` fits a type hint (unions, generics by their origin, float ⊇ int)."""
    if annotation is Any:
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_fits_annotation(value, arg) for arg in args)
    if annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation) or annotation
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (collections.abc.Sequence, list, tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, origin) if isinstance(origin, type) else True


def _type_fits(value: Any, default: Any, annotation: Any = None) -> bool:
    if annotation is not None:
        return _fits_annotation(value, annotation)
    if default is None or default is inspect.Parameter.empty:
        return True
    return _fits_annotation(value, list if isinstance(default, tuple) else type(default))


def _type_name(annotation: Any, default: Any) -> str:
    if annotation is None:
        return "list" if isinstance(default, tuple) else type(default).__name__
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("collections.abc.", "").replace("typing.", "").replace("Sequence", "list")


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        target = fn.__init__ if inspect.isclass(fn) else fn
        return typing.get_type_hints(target)
    except Exception:  # unresolvable hints in a plugin: fall back to the defaults' types
        return {}


def check_params(
    kind: str, name: str, fn: Callable[..., Any], params: Mapping[str, Any], skip: int = 0
) -> None:
    """Check ``params`` against ``fn``'s signature (after its first ``skip`` parameters):
    unknown keys, missing required keys and values whose type differs from the default's."""
    signature = list(inspect.signature(fn).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature):
        return
    valid = {p.name: p.default for p in signature}
    hints = _hints(fn)
    for key, value in params.items():
        if key not in valid:
            raise ConfigError(
                f"unknown parameter '{key}' for {kind} '{name}'{did_you_mean(key, valid)} "
                f"(valid: {', '.join(valid) or 'none'})"
            )
        if not _type_fits(value, valid[key], hints.get(key)):
            raise ConfigError(
                f"{kind} '{name}': {key}={value!r} should be "
                f"{_type_name(hints.get(key), valid[key])} like the default {valid[key]!r}"
            )
    missing = [k for k, d in valid.items() if d is inspect.Parameter.empty and k not in params]
    if missing:
        raise ConfigError(f"{kind} '{name}' needs the parameter(s): {', '.join(missing)}")
