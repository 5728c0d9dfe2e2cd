"""The light commands stay light: no Lightning, TensorBoard or matplotlib behind them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pytorch_lightning", "lightning_fabric", "tensorboard", "matplotlib", "torchmetrics")
STEPS = [  # in one fresh interpreter, one after another: the heavy modules are checked after each
    ("import nnkit", ["x"], "import nnkit"),
    ("--help", ["nnkit.train", "--help"], "from nnkit.commands.train import main; main()"),
    ("nnkit.list", ["nnkit.list"], "runpy.run_module('nnkit.list', run_name='__main__')"),
    (
        "nnkit.gradcheck",
        ["nnkit.gradcheck"],
        "runpy.run_module('nnkit.gradcheck', run_name='__main__')",
    ),
]
PROBE = """
import runpy, sys
for name, argv, action in {steps!r}:
    sys.argv = argv
    try:
        exec(action)
    except SystemExit:
        pass
    print("HEAVY after", name, sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def test_light_commands_import_no_heavy_framework():
    code = PROBE.format(steps=STEPS, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180
    )
    reports = [line for line in result.stderr.splitlines() if line.startswith("HEAVY after")]
    names = [line.removeprefix("HEAVY after ").rsplit(" [", 1)[0] for line in reports]
    assert names == [name for name, _, _ in STEPS], result.stderr
    for line in reports:
        assert line.endswith(" []"), (line, result.stderr[-1500:])
