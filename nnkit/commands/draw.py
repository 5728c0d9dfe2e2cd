"""``python -m nnkit.draw``: the network drawn for one input, as the article draws it.

    python -m nnkit.draw example=article input=[1,0.5] target=[1] out=article.png
    python -m nnkit.draw ckpt=runs/X/checkpoints/last.ckpt input=[1,0,1,1,1,1,1] target=[6]
    python -m nnkit.draw ckpt=... input=[...] replica=worst      # a run of several replicas

Writes a PNG and an SVG (``out``, by default ``network.png`` and ``network.svg``). From
Python: ``nnkit.draw.draw_network(net, x)`` returns the figure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from nnkit.errors import USER_ERRORS
from nnkit.inference.example import Example, load
from nnkit.models import MLP
from nnkit.viz.drawing import draw
from nnkit.viz.step import trace

USAGE = (
    "usage: python -m nnkit.draw (ckpt=PATH [replica=K|best|worst] | example=article) "
    "input=[x1,...] [target=[t1,...]] [lr=0.1] [out=network.png]"
)


def draw_network(net: MLP, x: torch.Tensor, target: torch.Tensor | None = None,
                 lr: float = 0.1, title: str = ""):  # fmt: skip
    """The figure of ``net`` (a network with hand-derived pairs) for the input row ``x`` —
    with the backward panel if a ``target`` is given (the article's MSE on a sigmoid output).

    >>> from nnkit.viz.step import article_network
    >>> figure = draw_network(article_network(), torch.tensor([[1.0, 0.5]]).double())
    >>> len(figure.axes)
    1
    """
    step = trace(net, x, target, lr=lr)
    params = net.network_params()
    return draw(step, params[0::2], params[1::2], title)


def render(example: Example, out: Path) -> list[Path]:
    """Draw ``example`` into ``out`` (PNG) and the SVG beside it."""
    from matplotlib import pyplot as plt

    step = trace(example.net, example.x, example.target, example.loss, example.squash,
                 example.lr)  # fmt: skip
    params = example.net.network_params()
    source = example.args.get("ckpt") or "the article's worked example"
    figure = draw(step, params[0::2], params[1::2], f"{source}, input {example.args['input']}")
    paths = [out.with_suffix(".png"), out.with_suffix(".svg")]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=150)
    plt.close(figure)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Draw; one line and exit 2 for bad input."""
    try:
        example = load(sys.argv[1:] if argv is None else argv, USAGE)
        paths = render(example, Path(example.args.get("out", "network.png")))
    except USER_ERRORS as error:
        print(f"nnkit.draw: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"nnkit.draw: error: could not write {error.filename}: {error.strerror}",
              file=sys.stderr)  # fmt: skip
        return 1
    print("drew " + " and ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
