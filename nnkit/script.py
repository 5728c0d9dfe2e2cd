"""``python -m nnkit.script``: a run as a plain PyTorch script (the command lives in
``nnkit.commands.script``; this path is the one users type and import)."""

import sys

from nnkit.commands.script import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
