"""``python -m nnkit.explain``: one step of backpropagation in the article's numbers
(the command lives in ``nnkit.commands.explain``; this path is the one users type and
import)."""

import sys

from nnkit.commands.explain import explain, main

__all__ = ["explain", "main"]

if __name__ == "__main__":
    sys.exit(main())
