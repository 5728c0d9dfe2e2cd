"""``python -m nnkit.list``: every registry's names and where each came from
(the command lives in ``nnkit.commands.list``; this path is the one users type and
import)."""

import sys

from nnkit.commands.list import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
