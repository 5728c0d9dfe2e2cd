"""``python -m nnkit.explain``: one step of backpropagation in the article's numbers.

For one input (and a target), the table gives each layer's weighted sums and activations, the
cost, the error found at the output and each layer's error after its activation's derivative,
and every bias's and weight's correction (−lr · gradient) — computed by nnkit's hand-derived
pairs, with torch autograd's errors beside them and the largest difference between the two.

    python -m nnkit.explain example=article input=[1,0.5] target=[1]
    python -m nnkit.explain ckpt=runs/X/checkpoints/last.ckpt input=[1,0,1,1,1,1,1] target=[6]

>>> main(["example=article", "input=[1,0.5]"])  # doctest: +ELLIPSIS
layer            unit  weighted sum  activation  ...
hidden 1 (relu)  1     3.25          3.25
hidden 1 (relu)  2     -0.3          0
output           1     6.5           6.5
answer: 0.9985
0
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nnkit.errors import USER_ERRORS
from nnkit.inference.example import Example, load
from nnkit.viz.step import trace, trace_with_autograd
from nnkit.viz.table import step_summary, step_table

USAGE = (
    "usage: python -m nnkit.explain (ckpt=PATH [replica=K|best|worst] | example=article) "
    "input=[x1,...] [target=[t1,...]] [lr=0.1] [plugins=[module,...]]"
)


def explain(example: Example) -> str:
    """The step's table and summary for ``example``."""
    ours = trace(example.net, example.x, example.target, example.loss, example.squash,
                 example.lr)  # fmt: skip
    theirs = None
    if example.target is not None:
        theirs = trace_with_autograd(example.net, example.x, example.target, example.lr,
                                     example.reference, example.squash is not None)  # fmt: skip
    return step_table(ours, theirs) + "\n" + step_summary(ours, theirs)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the step; one line and exit 2 for bad input."""
    try:
        text = explain(load(sys.argv[1:] if argv is None else argv, USAGE))
    except USER_ERRORS as error:
        print(f"nnkit.explain: error: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
