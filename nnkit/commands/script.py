"""``python -m nnkit.script [overrides ...]``: the run ``python -m nnkit.train`` would make of
the same overrides, as a plain PyTorch script on standard output — torch only, no nnkit: the
data, the network as ``nn.Sequential`` with the run's initial weights, the loss, the optimizer
and its schedule, nnkit's order of minibatches and the loop (``nnkit.training.plain_script``).

    python -m nnkit.script data=circular model.hidden=[4,2] > run.py && python run.py
    test acc 0.9733

A bad override, or what torch has no layer for (the step activation), is one line, exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nnkit.errors import USER_ERRORS, one_line

SCRIPT_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError)  # a user's mistake


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    from nnkit.training.plain_script import plain_script

    try:
        text = plain_script(args)
    except SCRIPT_ERRORS as error:
        print(f"nnkit.script: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
