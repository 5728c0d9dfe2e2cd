"""The playground: ``python -m nnkit.playground [overrides]`` serves a page that trains the
article's networks live — nnkit's own run and step behind every knob (``session``), the page's
settings checked by nnkit's schema (``settings``), a WebSocket per tab (``server``);
``Playground(overrides...)`` shows the same page in a notebook (``widget``: ``nnkit[notebook]``).

>>> from nnkit.playground.settings import to_overrides
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``Playground``, imported where it is asked for (it needs anywidget)."""
    if name == "Playground":
        from nnkit.playground.widget import Playground

        return Playground
    raise AttributeError(f"module 'nnkit.playground' has no attribute {name!r}")
