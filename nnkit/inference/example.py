"""Where ``nnkit.explain`` and ``nnkit.draw`` get a network and an example: a checkpoint (any
replica of it) or the article's worked example, and the input and target as the network sees
them (standardised where its data was, one-hot where its loss wants it).

>>> example = load(["example=article", "input=[1,0.5]", "target=[1]"])
>>> example.x.tolist(), example.target.tolist()
([[1.0, 0.5]], [[1.0]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nnkit.config.build import build_task_loss
from nnkit.data.task import loss_feed
from nnkit.errors import ConfigError
from nnkit.inference.arguments import key_values, names, numbers
from nnkit.inference.load import checkpoint_config, load_model, net_inputs
from nnkit.inference.predictions import class_names
from nnkit.losses import Loss
from nnkit.maths.functions import SIGMOID, Pair
from nnkit.maths.loss_functions import LossPair
from nnkit.models import MLP
from nnkit.plugins import load_modules
from nnkit.viz.step import article_network

KEYS = ("ckpt", "example", "input", "target", "lr", "replica", "out", "plugins")


@dataclass
class Example:
    """A network with hand-derived pairs, one input row, an optional target, and how the
    network's output meets its cost (``squash``, ``loss``)."""

    net: MLP
    x: torch.Tensor  # (1, in)
    target: torch.Tensor | None  # (1, out) as the cost takes it
    squash: Pair | None
    loss: LossPair | None  # nnkit's hand-derived cost (None: the article's MSE)
    reference: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None  # torch's twin
    lr: float
    labels: list[str]
    args: dict[str, Any]


def parse(argv: Sequence[str], usage: str) -> dict[str, Any]:
    """``key=value`` arguments: ``input``, ``target`` and ``lr`` as numbers, the rest as text."""
    args: dict[str, Any] = {"lr": 0.1, "replica": None}
    for key, value in key_values(argv, KEYS, usage).items():
        args[key] = numbers(key, value) if key in ("input", "target", "lr") else value
    if isinstance(args["lr"], list):
        args["lr"] = args["lr"][0]
    if ("ckpt" in args) == ("example" in args) or "input" not in args:
        raise ConfigError(f"give input=[...] and one of ckpt=PATH or example=article ({usage})")
    if args.get("example", "article") != "article":
        raise ConfigError(f"example={args['example']} is not known (choose from: article)")
    return args


def load(argv: Sequence[str], usage: str = "") -> Example:
    """The network and the example that ``argv`` names."""
    args = parse(argv, usage)
    if "example" in args:
        return _article(article_network(), args)
    return _checkpoint(args)


def _article(net: MLP, args: dict[str, Any]) -> Example:
    x = torch.tensor([args["input"]], dtype=torch.float64)
    if x.shape[1] != 2:
        raise ConfigError(f"input={args['input']}: the article's network takes 2 values")
    target = torch.tensor([args["target"]], dtype=torch.float64) if "target" in args else None
    return Example(net, x, target, SIGMOID, None, None, args["lr"], [], args)


def _checkpoint(args: dict[str, Any]) -> Example:
    load_modules(names(args.get("plugins", "")))
    net, sizes = load_model(args["ckpt"], args["replica"])
    if not isinstance(net, MLP) or net.pairs is None:
        raise ConfigError(
            f"checkpoint '{args['ckpt']}': its activations bring no hand-derived pairs "
            f"(model.backend=torch, or a plugin without a pair), so its step cannot be traced"
        )
    what = f"input={args['input']}"
    x = net_inputs(torch.tensor([args["input"]]), sizes, what).double()
    net = net.double()
    section = checkpoint_config(args["ckpt"])["loss"]
    loss = build_task_loss(section, sizes["task"], "nnkit")
    if not isinstance(loss, Loss):
        raise ConfigError(
            f"checkpoint '{args['ckpt']}': its loss '{section['name']}' brings no hand-derived "
            f"pair (a plugin's), so its step cannot be traced"
        )
    feed = loss_feed(sizes["task"], loss)
    target = None
    if "target" in args:
        raw = torch.tensor([args["target"]], dtype=torch.float64)
        if feed.one_hot:
            raw = torch.nn.functional.one_hot(raw.long()[:, 0], sizes["out_features"]).double()
        elif sizes["task"] == "multiclass":
            raw = raw.long()[:, 0]  # (1,) a class index
        target = raw
    squash = SIGMOID if feed.squash else None
    labels = class_names(sizes)
    return Example(net, x, target, squash, loss.pair(), loss.reference, args["lr"], labels, args)
