"""The light commands stay light: no Lightning, TensorBoard or matplotlib behind them."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pytorch_lightning", "lightning_fabric", "tensorboard", "matplotlib", "torchmetrics")
PROBE = """
import runpy, sys
sys.argv = {argv!r}
try:
    {action}
except SystemExit:
    pass
finally:
    print("HEAVY:", sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("name", "argv", "action"),
    [
        ("import nnkit", ["x"], "import nnkit"),
        ("--help", ["nnkit.train", "--help"], "from nnkit.cli import main; main()"),
        ("nnkit.list", ["nnkit.list"], "runpy.run_module('nnkit.list', run_name='__main__')"),
        (
            "nnkit.gradcheck",
            ["nnkit.gradcheck"],
            "runpy.run_module('nnkit.gradcheck', run_name='__main__')",
        ),
    ],
)
def test_light_commands_import_no_heavy_framework(name, argv, action):
    code = PROBE.format(argv=argv, action=action, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert "HEAVY: []" in result.stderr, (name, result.stderr[-1500:])
