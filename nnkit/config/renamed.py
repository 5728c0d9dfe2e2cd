"""Other projects' names for nnkit's settings: a refused key that is one of them gets nnkit's
name in its line, so a config brought from lightning-hydra-template is mended in one step.
"""

from __future__ import annotations

RENAMED = {  # a key of lightning-hydra-template's configs: nnkit's name for it
    "optimized_metric": "objective (e.g. objective=val/acc)",
}


def renamed_hint(message: str) -> str:
    """Where a refused key is another project's name for one of nnkit's, what nnkit calls it.

    >>> renamed_hint("Could not override 'optimized_metric'.")
    " — lightning-hydra-template's optimized_metric is nnkit's objective (e.g. objective=val/acc)"
    """
    found = [key for key in RENAMED if f"'{key}'" in message]
    return "".join(
        f" — lightning-hydra-template's {key} is nnkit's {RENAMED[key]}" for key in found
    )
