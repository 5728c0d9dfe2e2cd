"""The playground: ``python -m nnkit.playground [overrides]`` serves a page that trains the
article's networks live — nnkit's own run and step behind every knob (``session``), the page's
settings checked by nnkit's schema (``settings``), a WebSocket per tab (``server``).

>>> from nnkit.playground.settings import to_overrides
"""
