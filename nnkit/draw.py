"""``python -m nnkit.draw``: the network drawn for one input, as the article draws it
(the command lives in ``nnkit.commands.draw``; this path is the one users type and
import)."""

import sys

from nnkit.commands.draw import draw_network, main

__all__ = ["draw_network", "main"]

if __name__ == "__main__":
    sys.exit(main())
