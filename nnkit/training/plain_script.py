"""A run as the plain PyTorch a learner writes next: ``torch`` only, no nnkit — the data, the
network as ``nn.Sequential`` (or, with normalization, dropout or residual connections, a small
``nn.Module``: ``nnkit.training.layered_script``) with the run's very initial weights, the loss,
the optimizer (and its schedule), nnkit's order of minibatches and the loop, with the article's
words as comments.

The code comes first (about fifty lines); the numbers it needs — the data nnkit made and the
weights it started from, exactly — are in ``data()`` and ``initial_weights()`` at the bottom.
What torch has no layer for (the step activation, a plugin's op, replicas) is refused in one
line.

>>> text = plain_script(["data=xor", "data.n=40", "data.batch_size=4", "model.hidden=[3]"])
>>> "import nnkit" in text, text.count("nn.Linear(")
(False, 2)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnkit.errors import ConfigError
from nnkit.maths.declaration import DECLARED
from nnkit.training.layered_script import layered_network
from nnkit.training.literals import entry, values, wrapped

SCHEDULES = {  # torch's scheduler for each built-in schedule, from its settings
    "step": "lr_scheduler.StepLR(optimizer, step_size={step_size}, gamma={gamma})",
    "multistep": "lr_scheduler.MultiStepLR(optimizer, milestones={milestones}, gamma={gamma})",
    "exponential": "lr_scheduler.ExponentialLR(optimizer, gamma={gamma})",
    "cosine": "lr_scheduler.CosineAnnealingLR(optimizer, T_max={total}, eta_min={eta_min})",
    "linear_warmup": "lr_scheduler.LinearLR(optimizer, {start_factor}, 1.0, total_iters={warmup})",
    "warmup_cosine": (
        "lr_scheduler.SequentialLR(optimizer, [\n"
        "    lr_scheduler.LinearLR(optimizer, {start_factor}, 1.0, total_iters={warmup}),\n"
        "    lr_scheduler.CosineAnnealingLR(optimizer, T_max={falling}, eta_min={eta_min}),\n"
        "], milestones=[{warmup}])"
    ),
    "plateau": (
        'lr_scheduler.ReduceLROnPlateau(\n    optimizer, mode="{mode}", factor={factor}, '
        "patience={patience}, threshold={threshold}, min_lr={min_lr}\n)"
    ),
}
WEIGHTS = "    weights = [layer.weight for layer in net.modules() if isinstance(layer, nn.Linear)]"
FEATURES = {"x1": "x1", "x2": "x2", "x1_sq": "x1 * x1", "x2_sq": "x2 * x2", "x1x2": "x1 * x2",
            "sin_x1": "torch.sin(x1)", "sin_x2": "torch.sin(x2)"}  # fmt: skip


def plain_script(overrides: Sequence[str], folder: Path | None = None) -> str:
    """The run ``python -m nnkit.train OVERRIDES`` would make, as a plain PyTorch script."""
    from omegaconf import open_dict

    from nnkit.config.build import loss_name
    from nnkit.config.compose import compose
    from nnkit.config.prepare import prepare

    cfg = compose(list(overrides))
    with open_dict(cfg):
        del cfg["hydra"]
    prepared = prepare(cfg, folder or Path.cwd())
    config, data = prepared.config, prepared.data
    config["loss"]["name"] = loss_name(cfg.loss, data.task)  # auto: the task's own
    _check(config)
    parts = [
        _head(overrides, config, data.task),
        _network(config, data.in_features, data.out_features, prepared.net),
        _training(config, data.task, len(data.train[0])),
        _evaluation(data.task),
        _numbers(data, prepared.net, config),
    ]
    return "\n".join(parts)


def _check(config: dict[str, Any]) -> None:
    """Refuse, in one line, what torch's own layers cannot write."""
    model = config["model"]
    names = model["activation"] if isinstance(model["activation"], list) else [model["activation"]]
    written = sorted(name for name, op in DECLARED.items() if op.layer)
    for name in names:
        if name not in written:
            raise ConfigError(
                f"model.activation={name!r} has no torch layer for nnkit.script to write "
                f"(choose from: {', '.join(written)})"
            )
    refusals = {
        "model": (model["name"], ("mlp", "linear")),
        "optimizer": (config["optimizer"]["name"], ("sgd", "adam", "adamw")),
        "scheduler": (config["scheduler"]["name"], ("none", *SCHEDULES)),
        "trainer.replicas": (config["trainer"]["replicas"], (1,)),
    }
    for key, (value, valid) in refusals.items():
        if value not in valid:
            choices = ", ".join(str(v) for v in valid)
            raise ConfigError(
                f"nnkit.script writes torch's own layers, not {key}={value!r} (choose from: "
                f"{choices})"
            )
    monitor = config["scheduler"].get("monitor")
    if monitor is not None and monitor not in ("val/loss", "train/loss"):
        raise ConfigError(f"nnkit.script's plateau watches val/loss or train/loss, not {monitor}")


def _head(overrides: Sequence[str], config: dict[str, Any], task: str) -> str:
    line = wrapped('"""python -m nnkit.train ', " ".join(overrides), "")
    dtype = "torch.float64" if "64" in str(config["trainer"]["precision"]) else "torch.float32"
    return f'''{line}
as plain PyTorch, written by nnkit.script: torch only, the same data, weights and steps."""

import torch
from torch import nn
from torch.nn import functional as F
from torch.optim import lr_scheduler

torch.set_default_dtype({dtype})
TASK = "{task}"  # binary: one output, its sign the class; multiclass: a score per class

'''


def _network(config: dict[str, Any], inputs: int, outputs: int, net: Any) -> str:
    model = config["model"]
    widths = [len(model["features"]) if model.get("features") else inputs, *model["hidden"]]
    names = model["activation"]
    names = names if isinstance(names, list) else [names] * len(model["hidden"])
    options = model.get("activation_args") or {}
    extras = getattr(net, "extras", None)
    if extras is not None:
        code = layered_network(extras, widths, outputs, [_torch_layer(n, options) for n in names])
        return code + _features(model.get("features")) + _cost(config)
    lines = [
        "def network() -> nn.Sequential:",
        '    """Each neuron adds together the weighted values of all the neurons connected',
        '    to it and a bias, then its activation; the last layer\'s values are the output."""',
        "    return nn.Sequential(",
    ]
    for layer, (a, b) in enumerate(itertools.pairwise(widths)):
        activation = _torch_layer(names[min(layer, len(names) - 1)], options)
        lines.append(f"        nn.Linear({a}, {b}), {activation},")
    lines += [f"        nn.Linear({widths[-1]}, {outputs}),", "    )", "", "", ""]
    return "\n".join(lines) + _features(model.get("features")) + _cost(config)


def _torch_layer(name: str, options: dict[str, Any]) -> str:
    """An activation's torch layer, as code."""
    op = DECLARED[name]
    return op.layer.format(**{**op.options, **options})


def _features(features: list[str] | None) -> str:
    if not features:
        return "def features(x):\n    return x  # the network reads the inputs as they are\n"
    columns = ", ".join(FEATURES[f] for f in features)
    return f'''def features(x):
    """What the first layer reads of a point (x1, x2): {", ".join(features)}."""
    x1, x2 = x[:, 0:1], x[:, 1:2]
    return torch.cat([{columns}], dim=1)
'''


def _cost(config: dict[str, Any]) -> str:
    loss, kind = config["loss"]["name"], config["regularization"]["kind"]
    rate = config["regularization"]["rate"]
    penalty = {
        "l1": f" + {rate} * sum(w.abs().sum() for w in weights)",
        "l2": f" + {rate} * sum((w * w).sum() for w in weights) / 2",
    }.get(kind, "")
    data_cost = {
        "bce": "F.binary_cross_entropy_with_logits(outputs, targets(outputs, y))",
        "cross_entropy": "F.cross_entropy(outputs, y)",
        "mse": "F.mse_loss(squash(outputs), targets(outputs, y))",
    }[loss]
    return f'''

def cost(outputs, y, weights=()):
    """How wrong the outputs are ({loss}){", plus the weights' penalty" if penalty else ""}."""
    return {data_cost}{penalty}


def targets(outputs, y):
    # classes as one-hot rows, where the cost compares rows
    return F.one_hot(y, outputs.shape[1]).to(outputs.dtype) if TASK == "multiclass" else y


def squash(outputs):
    # the article's output neurons: a sigmoid, for classes
    return outputs if TASK == "regression" else torch.sigmoid(outputs)'''


def _training(config: dict[str, Any], task: str, rows: int) -> str:
    from nnkit.training.compiled import planned_steps

    trainer, optimizer = config["trainer"], config["optimizer"]
    batch = config["data"]["batch_size"] or rows
    steps = planned_steps(rows, batch, trainer["max_epochs"], trainer["max_steps"])
    scheduler = config["scheduler"]
    per_step = scheduler["name"] != "none" and scheduler["interval"] == "step"
    step_line = "            schedule.step()\n" if per_step else ""
    epoch_line = _epoch_schedule(scheduler) if not per_step else ""
    return f"""

def train(numbers):
    net = network()
    with torch.no_grad():  # nnkit's initial weights, exactly
        for param, value in zip(net.parameters(), initial_weights()):
            param.copy_(torch.tensor(value))
    x, y = numbers["train"]
    optimizer = {_optimizer(optimizer)}
{_schedule(scheduler, steps, trainer["max_epochs"])}{WEIGHTS}
    for epoch in range({trainer["max_epochs"]}):
        # every training point once an epoch, in nnkit's order: a permutation of the seed
        generator = torch.Generator().manual_seed({config["seed"]} * 1_000_003 + epoch)
        order = torch.randperm(len(x), generator=generator)
        for rows in order.split({batch}):
            loss = cost(net(features(x[rows])), y[rows], weights)
            optimizer.zero_grad()
            loss.backward()  # the error walked back, layer by layer, to every weight
            optimizer.step()  # each weight moves against its gradient
{step_line}{epoch_line}    return net"""


def _optimizer(section: dict[str, Any]) -> str:
    name, lr, decay = section["name"], section["lr"], section["weight_decay"]
    if name == "sgd":
        return (f"torch.optim.SGD(net.parameters(), lr={lr}, momentum={section['momentum']}, "
                f"weight_decay={decay})")  # fmt: skip
    kind = {"adam": "Adam", "adamw": "AdamW"}[name]
    betas = tuple(section["betas"])
    return f"torch.optim.{kind}(net.parameters(), lr={lr}, betas={betas}, weight_decay={decay})"


def _schedule(section: dict[str, Any], steps: int, epochs: int) -> str:
    name = section["name"]
    if name == "none":
        return ""
    total = int(section["total"] or (steps if section["interval"] == "step" else epochs))
    settings = {k: v for k, v in section.items() if k not in ("name", "interval", "total")}
    if name == "plateau" and settings.get("mode") == "auto":
        settings["mode"] = "min"
    warmup = settings.get("warmup", 0)
    code = SCHEDULES[name].format(total=max(total, 1), falling=max(total - warmup, 1), **settings)
    return "    schedule = " + code.replace("\n", "\n    ") + "\n"


def _epoch_schedule(section: dict[str, Any]) -> str:
    if section["name"] == "none":
        return ""
    if section["name"] != "plateau":
        return "        schedule.step()  # the next epoch's learning rate\n"
    watched = "cost(net(features(x)), y)"
    if section["monitor"] == "val/loss":  # as nnkit validates: no dropout, running statistics
        watched = 'cost(net.eval()(features(numbers["val"][0])), numbers["val"][1])'
    return (
        (
            "        with torch.no_grad():  # the rate falls when the watched loss stops falling\n"
            f"            schedule.step(float({watched}))\n"
            "        net.train()\n"
        )
        if section["monitor"] == "val/loss"
        else (
            "        with torch.no_grad():  # the rate falls when the watched loss stops falling\n"
            f"            schedule.step(float({watched}))\n"
        )
    )


def _evaluation(task: str) -> str:
    measure = {
        "binary": ('"test acc"', "float(((outputs >= 0).to(y.dtype) == y).float().mean())"),
        "multiclass": ('"test acc"', "float((outputs.argmax(dim=1) == y).float().mean())"),
        "regression": ('"test mse"', "float(F.mse_loss(outputs, y))"),
    }[task]
    return f"""

def main():
    numbers = {{part: (torch.tensor(x), torch.tensor(y)) for part, (x, y) in data().items()}}
    net = train(numbers).eval()  # evaluation: no dropout, normalization's running statistics
    x, y = numbers["test"]
    with torch.no_grad():
        outputs = net(features(x))
    print({measure[0]}, round({measure[1]}, 4))
    return net"""


def _numbers(data: Any, net: Any, config: dict[str, Any]) -> str:
    params = [p.detach() for p in net.parameters()]
    splits = {name: getattr(data, name) for name in ("train", "val", "test")}
    lines = [
        "",
        "",
        "# The numbers: the data nnkit made and the weights it started from, as they were.",
        "",
        "",
        "def data():",
        "    return {",
        *(entry(name, x, y) for name, (x, y) in splits.items()),
        "    }",
        "",
        "",
        "def initial_weights():",
        wrapped("    return [", ", ".join(values(p) for p in params) + "]", "        "),
        "",
        "",
        'if __name__ == "__main__":',
        "    main()",
        "",
    ]
    return "\n".join(lines)
