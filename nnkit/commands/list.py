"""``python -m nnkit.list [PATTERN]``: every registry's names and where each came from.

Plugins that failed to load are listed with their reason (``--strict``: an error instead;
``--no-discover``: installed plugin packages are not loaded). Imports no Lightning.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from fnmatch import fnmatchcase

from nnkit.catalog import REGISTRIES
from nnkit.errors import PluginError
from nnkit.plugins import POLICY, set_policy


def _title(kind: str) -> str:
    return kind + ("es" if kind.endswith("s") else "s")


def listing(pattern: str = "*") -> str:
    """The listing as text: one section per registry, one line per name.

    >>> print(listing("rel*").splitlines()[1])
      relu  built-in
    """
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failures are listed below instead
        for registry in REGISTRIES:
            title = _title(registry.kind)
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
    parser.add_argument("--no-discover", action="store_true", help="skip installed plugin packages")
    parser.add_argument(
        "--strict", action="store_true", help="a plugin that fails to load is an error"
    )
    args = parser.parse_args(argv)
    set_policy(discover=not args.no_discover, strict=args.strict, timeout_s=POLICY.timeout_s)
    try:
        print(listing(args.pattern))
    except PluginError as error:
        print(f"nnkit.list: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
