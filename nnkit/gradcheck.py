"""``python -m nnkit.gradcheck``: the proof table, every op and network checked against
torch's autograd
(the command lives in ``nnkit.commands.gradcheck``; this path is the one users type and
import)."""

import sys

from nnkit.commands.gradcheck import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
