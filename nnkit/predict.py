"""``python -m nnkit.predict ckpt=PATH input=[1,0,1,1,1,1,1]``: a trained model's answer;
``input=FILE.csv`` (or ``.npy``, ``.npz``): an answer for every row, written as a CSV.

The network is rebuilt from the checkpoint's own config (plain data, loaded with
``weights_only=True``) and its weights; nothing in the checkpoint is imported or executed.
Names that came from plugins need the plugin present: installed, or given as ``plugins=[...]``.
A model trained on a user's file takes raw values (standardised with the training split's
statistics kept in the checkpoint) and answers the file's label names.

>>> parse_args(["ckpt=a.ckpt", "input=[1, 0.5]"])
{'plugins': [], 'replica': None, 'ckpt': 'a.ckpt', 'input': [1.0, 0.5]}
"""

from __future__ import annotations

import ast
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nnkit.build import build_net
from nnkit.checkpoints import load_checkpoint
from nnkit.data.tables import read_inputs
from nnkit.errors import USER_ERRORS, ConfigError
from nnkit.plugins import load_modules
from nnkit.prediction_table import class_names, prediction_table
from nnkit.registries import registry_of
from nnkit.replicas import ReplicaMLP
from nnkit.storage import os_reason, write_atomic
from nnkit.task import TASKS, predictions

USAGE = (
    "usage: python -m nnkit.predict ckpt=PATH input=[x1,x2,...]|FILE.csv|FILE.npy|FILE.npz "
    "[output=FILE.csv] [replica=K|best] [plugins=[module,...]]"
)
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".npy", ".npz")
KEYS = ("ckpt", "input", "output", "plugins", "replica")


def parse_args(argv: Sequence[str]) -> dict[str, Any]:
    """``key=value`` arguments: ``ckpt`` (a path), ``input`` (a list of numbers, or a file of
    rows), ``output`` (where a file's predictions go), ``replica`` (a number or ``best``, for a
    run of several replicas), ``plugins``."""
    args: dict[str, Any] = {"plugins": [], "replica": None}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in KEYS:
            raise ConfigError(f"unexpected argument '{arg}' ({USAGE})")
        is_file = key == "input" and value.lower().endswith(FILE_SUFFIXES)
        plain = key in ("ckpt", "replica", "output") or is_file
        args["input_file" if is_file else key] = value if plain else _literal(key, value)
    if "ckpt" not in args or not ("input" in args or "input_file" in args):
        raise ConfigError(f"ckpt and input are both required ({USAGE})")
    if "output" in args and "input_file" not in args:
        raise ConfigError("output= goes with input=FILE (a file of rows to predict)")
    if "input_file" in args:
        return args
    if not all(isinstance(v, int | float) for v in args["input"]):
        raise ConfigError(f"input={args['input']} must be a list of numbers")
    args["input"] = [float(v) for v in args["input"]]
    bad = [v for v in args["input"] if not math.isfinite(v)]
    if bad:
        raise ConfigError(f"input holds {bad[0]}: every value must be a finite number")
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


def load_model(
    ckpt: str | Path, replica: str | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained network of a checkpoint (in eval mode) and its data description
    (``task``, ``in_features``, ``out_features``, ``classes``; for a user's file also
    ``features``, ``labels``, ``mean`` and ``std``). From a run of several
    replicas, replica number ``replica``, or (``best`` or None) the best by the task's
    monitored metric; a checkpoint of one network takes only ``best`` or 0."""
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
        net = net.replica(_choose_replica(checkpoint, sizes["task"], replica or "best", replicas))
    elif replica not in (None, "best", "worst", "0"):
        raise ConfigError(
            f"replica={replica}: checkpoint '{ckpt}' holds one network, not replicas "
            f"(it was trained without trainer.replicas; valid: best, worst, 0, or leave it out)"
        )
    return net.eval(), sizes


def _choose_replica(checkpoint: dict[str, Any], task: str, replica: str, replicas: int) -> int:
    if replica not in ("best", "worst"):
        if not replica.isdigit() or int(replica) >= replicas:
            raise ConfigError(
                f"replica={replica} is not valid (choose from: best, worst, 0..{replicas - 1})"
            )
        return int(replica)
    monitor, mode = checkpoint.get("nnkit_objective", (TASKS[task].monitor, TASKS[task].mode))
    scores = checkpoint.get("nnkit_replica_scores", {}).get(monitor)
    if scores is None:
        raise ConfigError(
            f"this checkpoint has no {monitor} per replica: choose replica=0..{replicas - 1}"
        )
    highest = (mode == "max") == (replica == "best")
    return int(scores.argmax() if highest else scores.argmin())


def checkpoint_config(ckpt: str | Path) -> dict[str, Any]:
    """The run's own config, as the checkpoint keeps it (plain data)."""
    return load_checkpoint(ckpt)["hyper_parameters"]["config"]


def net_inputs(raw: torch.Tensor, sizes: dict[str, Any], what: str) -> torch.Tensor:
    """Raw inputs ``(N, F)`` as the network saw its training data: standardised with the
    training split's statistics where the data was. Non-finite values are refused."""
    if raw.shape[-1] != sizes["in_features"]:
        raise ConfigError(
            f"{what} has {raw.shape[-1]} values a row; this model takes {sizes['in_features']}"
            + (f" ({', '.join(sizes['features'])})" if sizes.get("features") else "")
        )
    x = raw.to(torch.float32)
    if not torch.isfinite(x).all():
        row = int((~torch.isfinite(x)).any(dim=1).nonzero()[0])
        raise ConfigError(f"{what}, row {row + 1}, does not fit in float32 (largest: ±3.4e38)")
    if sizes.get("mean"):
        x = (x - torch.tensor(sizes["mean"])) / torch.tensor(sizes["std"])  # (N, F)
    return x


@torch.no_grad()
def outputs_of(net: torch.nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
    """The network's outputs for ``x``; refused where a row drives them to infinity."""
    outputs = net(x)  # (N, out)
    bad = ~torch.isfinite(outputs).all(dim=-1)
    if bad.any():
        row = int(bad.nonzero()[0])
        raise ConfigError(
            f"{what}, row {row + 1}, drives the network's outputs to {outputs[row].tolist()}: "
            f"values this far outside the training data have no finite answer"
        )
    return outputs


def predict(
    ckpt: str, values: Sequence[float], replica: str | None = None
) -> tuple[Any, list[float]]:
    """The prediction for one input (a label name where the data had them), and the model's
    raw outputs."""
    net, sizes = load_model(ckpt, replica)
    what = f"input={list(values)}"
    outputs = outputs_of(net, net_inputs(torch.tensor([values]), sizes, what), what)  # (1, out)
    answer = predictions(sizes["task"], outputs)[0]
    if sizes["task"] == "regression":
        return answer.tolist(), outputs[0].tolist()
    return class_names(sizes)[int(answer)], outputs[0].tolist()


def predict_file(
    ckpt: str, path: str, output: str | None = None, replica: str | None = None
) -> tuple[Path, int]:
    """Predict every row of ``path`` (CSV, ``.npy`` or ``.npz``) and write a CSV of
    predictions — and, for classification, each class's probability — to ``output`` (by
    default beside the input: ``NAME.predictions.csv``). Returns the file and the row count."""
    net, sizes = load_model(ckpt, replica)
    try:
        raw = read_inputs(Path(path), sizes.get("features") or [], sizes["in_features"])
    except ValueError as error:
        raise ConfigError(str(error)) from error
    outputs = outputs_of(net, net_inputs(torch.from_numpy(raw), sizes, f"input={path}"), path)
    target = Path(output) if output else Path(path).with_suffix(".predictions.csv")
    write_atomic(target, prediction_table(sizes, outputs))
    return target, len(outputs)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the prediction and the output values (or write a file's predictions); exit 2
    with one line on bad input, 1 if the predictions cannot be written."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        load_modules(args["plugins"])
        if "input_file" in args:
            file = args["input_file"]
            target, rows = predict_file(args["ckpt"], file, args.get("output"), args["replica"])
            print(f"predicted {rows} rows of {file}: {target}")
            return 0
        answer, outputs = predict(args["ckpt"], args["input"], args["replica"])
    except USER_ERRORS as error:
        print(f"nnkit.predict: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"nnkit.predict: error: could not write {error.filename}: {os_reason(error)}",
            file=sys.stderr,
        )
        return 1
    print(f"prediction: {answer}")
    print("outputs: " + ", ".join(f"{v:.4f}" for v in outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
