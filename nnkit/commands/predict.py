"""``python -m nnkit.predict ckpt=PATH input=[1,0,1,1,1,1,1]``: a trained model's answer;
``input=FILE.csv`` (or ``.npy``, ``.npz``): an answer for every row, written as a CSV.

The network is rebuilt from the checkpoint's own config and its weights
(``nnkit.inference.load``); names that came from plugins need the plugin: installed, or given as
``plugins=[...]``. A model trained on a user's file takes raw values and answers the file's
label names.

>>> parse_args(["ckpt=a.ckpt", "input=[1, 0.5]"])
{'plugins': [], 'replica': None, 'ckpt': 'a.ckpt', 'input': [1.0, 0.5]}
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from nnkit.errors import USER_ERRORS, ConfigError
from nnkit.inference.arguments import key_values, names, numbers
from nnkit.inference.load import load_model
from nnkit.inference.predictions import predict, predict_file
from nnkit.plugins import load_modules
from nnkit.runs.storage import os_reason

__all__ = ["load_model", "main", "parse_args", "predict", "predict_file"]

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
    given = key_values(argv, KEYS, USAGE)
    args: dict[str, Any] = {"plugins": names(given.pop("plugins", "")), "replica": None}
    args.update(given)
    if "ckpt" not in args or "input" not in args:
        raise ConfigError(f"ckpt and input are both required ({USAGE})")
    if args["input"].lower().endswith(FILE_SUFFIXES):
        args["input_file"] = args.pop("input")
        return args
    if "output" in args:
        raise ConfigError("output= goes with input=FILE (a file of rows to predict)")
    args["input"] = numbers("input", args["input"])
    return args


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
