"""``python -m nnkit.list [PATTERN]``: every registry's names and where each came from.

Plugins that failed to load are listed with their reason. Imports no Lightning.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from fnmatch import fnmatchcase

from nnkit.activations import ACTIVATIONS
from nnkit.data.dataset import DATASETS
from nnkit.losses import LOSSES
from nnkit.models import MODELS

REGISTRIES = {"activations": ACTIVATIONS, "losses": LOSSES, "datasets": DATASETS, "models": MODELS}


def listing(pattern: str = "*") -> str:
    """The listing as text: one section per registry, one line per name.

    >>> print(listing("rel*").splitlines()[1])
      relu  built-in
    """
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failures are listed below instead
        for title, registry in REGISTRIES.items():
            names = registry.names(pattern)
            broken = {n: r for n, r in registry.unavailable().items() if fnmatchcase(n, pattern)}
            if not names and not broken:
                continue
            lines.append(f"{title}:")
            width = max(len(n) for n in [*names, *broken])
            lines += [f"  {n.ljust(width)}  {registry.source(n)}" for n in names]
            lines += [f"  {n.ljust(width)}  UNAVAILABLE: {r}" for n, r in sorted(broken.items())]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nnkit.list", description=__doc__.split("\n")[0]
    )
    parser.add_argument("pattern", nargs="?", default="*", help="shell-style name filter")
    print(listing(parser.parse_args(argv).pattern))
    return 0


if __name__ == "__main__":
    sys.exit(main())
