"""The two backends a model can run on: nnkit's hand-derived Functions, or torch's built-ins.

>>> check_backend("torch")
'torch'
"""

from __future__ import annotations

BACKENDS: tuple[str, ...] = ("nnkit", "torch")


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is one of ``BACKENDS``, else raise a one-line ``ValueError``."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}' (choose from: {', '.join(BACKENDS)})")
    return backend
