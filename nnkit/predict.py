"""``python -m nnkit.predict ckpt=PATH input=[1,0,1,1,1,1,1]``: a trained model's answer.

The network is rebuilt from the checkpoint's own config (plain data, loaded with
``weights_only=True``) and its weights; nothing in the checkpoint is imported or executed.
Names that came from plugins need the plugin present: installed, or given as ``plugins=[...]``.

>>> parse_args(["ckpt=a.ckpt", "input=[1, 0.5]"])
{'plugins': [], 'replica': 'best', 'ckpt': 'a.ckpt', 'input': [1.0, 0.5]}
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nnkit.build import build_net
from nnkit.checkpoints import load_checkpoint
from nnkit.errors import USER_ERRORS, ConfigError
from nnkit.plugins import load_modules
from nnkit.registries import registry_of
from nnkit.replicas import ReplicaMLP
from nnkit.task import TASKS, predictions

USAGE = (
    "usage: python -m nnkit.predict ckpt=PATH input=[x1,x2,...] [replica=K|best] "
    "[plugins=[module,...]]"
)


def parse_args(argv: Sequence[str]) -> dict[str, Any]:
    """``key=value`` arguments: ``ckpt`` (a path), ``input`` (a list of numbers), ``replica``
    (a number or ``best``, for a run of several replicas), ``plugins``."""
    args: dict[str, Any] = {"plugins": [], "replica": "best"}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in ("ckpt", "input", "plugins", "replica"):
            raise ConfigError(f"unexpected argument '{arg}' ({USAGE})")
        args[key] = value if key in ("ckpt", "replica") else _literal(key, value)
    if "ckpt" not in args or "input" not in args:
        raise ConfigError(f"ckpt and input are both required ({USAGE})")
    if not all(isinstance(v, int | float) for v in args["input"]):
        raise ConfigError(f"input={args['input']} must be a list of numbers")
    args["input"] = [float(v) for v in args["input"]]
    return args


def _literal(key: str, value: str) -> list[Any]:
    try:
        parsed = ast.literal_eval(value) if key == "input" else value.strip("[]").split(",")
    except (ValueError, SyntaxError) as error:
        raise ConfigError(f"{key}={value} is not a list like [1,0,1]") from error
    if not isinstance(parsed, list | tuple):
        raise ConfigError(f"{key}={value} is not a list like [1,0,1]")
    return [p.strip() for p in parsed if p.strip()] if key == "plugins" else list(parsed)


def _require_sources(sources: dict[str, str]) -> None:
    for key, source in sources.items():
        kind, _, name = key.partition(":")
        if name not in registry_of(kind):
            hint = (
                f"pip install {source.split()[1]}"
                if source.startswith("package")
                else f"pass plugins=[{source.split()[-1]}]"
            )
            raise ConfigError(f"this checkpoint needs {kind} '{name}' from {source}: {hint}")


def load_model(ckpt: str | Path, replica: str = "best") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained network of a checkpoint (in eval mode) and its data description
    (``task``, ``in_features``, ``out_features``, ``classes``). From a run of several
    replicas, replica number ``replica``, or the best by the task's monitored metric."""
    checkpoint = load_checkpoint(ckpt)
    hparams = checkpoint["hyper_parameters"]
    _require_sources(hparams.get("sources", {}))
    sizes = hparams["data"]
    replicas = hparams["config"].get("trainer", {}).get("replicas", 1)

    def make() -> torch.nn.Module:
        return build_net(hparams["config"]["model"], sizes["in_features"], sizes["out_features"])

    net = make() if replicas == 1 else ReplicaMLP([make() for _ in range(replicas)], make)
    weights = {
        k.removeprefix("net."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("net.")
    }
    try:
        net.load_state_dict(weights)
    except RuntimeError as error:
        raise ConfigError(f"checkpoint '{ckpt}' does not fit its own config: {error}") from error
    if replicas > 1:
        net = net.replica(_choose_replica(checkpoint, sizes["task"], replica, replicas))
    return net.eval(), sizes


def _choose_replica(checkpoint: dict[str, Any], task: str, replica: str, replicas: int) -> int:
    if replica != "best":
        if not replica.isdigit() or int(replica) >= replicas:
            raise ConfigError(
                f"replica={replica} is not valid (choose from: best, 0..{replicas - 1})"
            )
        return int(replica)
    monitor, mode = checkpoint.get("nnkit_objective", (TASKS[task].monitor, TASKS[task].mode))
    scores = checkpoint.get("nnkit_replica_scores", {}).get(monitor)
    if scores is None:
        raise ConfigError(
            f"this checkpoint has no {monitor} per replica: choose replica=0..{replicas - 1}"
        )
    best = scores.argmax() if mode == "max" else scores.argmin()
    return int(best)


def predict(ckpt: str, values: Sequence[float], replica: str = "best") -> tuple[Any, list[float]]:
    """The prediction for one input, and the model's raw outputs."""
    net, sizes = load_model(ckpt, replica)
    if len(values) != sizes["in_features"]:
        raise ConfigError(
            f"input has {len(values)} values; this model takes {sizes['in_features']}"
        )
    with torch.no_grad():
        outputs = net(torch.tensor([values], dtype=torch.float32))  # (1, out)
    answer = predictions(sizes["task"], outputs)[0]
    return (answer.tolist() if answer.dim() else int(answer)), outputs[0].tolist()


def main(argv: Sequence[str] | None = None) -> int:
    """Print the prediction and the output values; exit 2 with one line on bad input."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        load_modules(args["plugins"])
        answer, outputs = predict(args["ckpt"], args["input"], args["replica"])
    except USER_ERRORS as error:
        print(f"nnkit.predict: error: {error}", file=sys.stderr)
        return 2
    print(f"prediction: {answer}")
    print("outputs: " + ", ".join(f"{v:.4f}" for v in outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
