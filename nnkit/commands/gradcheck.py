"""``python -m nnkit.gradcheck [PATTERN] [--plugin MODULE_OR_FILE ...]``: the proof table.

Every registered activation and loss, the linear layer and the whole-network Function, each
checked against torch's autograd in float64 (``nnkit.proof``). Prints one row per op and exits
1 if any row fails, or if an op is unproved (it declares no contract and reference) unless
``--allow-unproved``; ``--plugin`` imports a plugin first, so its ops are proved too; 2 if a
plugin cannot be imported.

>>> main(["sigmoid"])  # doctest: +ELLIPSIS
kind ...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nnkit.errors import PluginError
from nnkit.plugins import load_modules
from nnkit.proof.ops import check_all, format_table


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nnkit.gradcheck [PATTERN]``: print the proof table; 1 if any row fails."""
    parser = argparse.ArgumentParser(
        prog="python -m nnkit.gradcheck", description=__doc__.split("\n")[0]
    )
    parser.add_argument("pattern", nargs="?", default="*", help="shell-style name filter")
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="import a plugin (a module name or a .py file) first, so its ops are proved too",
    )
    parser.add_argument(
        "--allow-unproved",
        action="store_true",
        help="exit 0 even if an op declares no contract and reference (its row still shows)",
    )
    args = parser.parse_args(argv)
    try:
        load_modules(args.plugin)
    except PluginError as error:
        print(f"nnkit.gradcheck: error: {error}", file=sys.stderr)
        return 2
    rows = check_all(args.pattern)
    print(format_table(rows))
    failed = [r for r in rows if r.verdict == "FAIL"]
    unproved = [r for r in rows if r.verdict == "unproved"]
    passed = len(rows) - len(failed) - len(unproved)
    print(f"\n{passed} passed, {len(failed)} failed, {len(unproved)} unproved")
    if unproved and not args.allow_unproved:
        names = ", ".join(r.name for r in unproved)
        print(
            f"unproved: {names} (give each a contract and a torch reference, or pass "
            f"--allow-unproved)"
        )
    return 1 if failed or (unproved and not args.allow_unproved) else 0


if __name__ == "__main__":
    sys.exit(main())
