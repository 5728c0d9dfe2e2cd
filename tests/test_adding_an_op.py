"""The guide to adding a built-in op, followed on a copy of the package: its two edits, and
nothing else, make an activation that is registered, proved and trained natively."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nnkit
from nnkit.native.build import unavailable_reason

GUIDE = Path(__file__).parents[1] / "docs" / "guides" / "adding-an-op.md"
PACKAGE = Path(nnkit.__file__).parent
CHECK = """
import torch, nnkit
from nnkit.losses import build_loss
from nnkit.models import MLP
from nnkit.testing import check_activation
from nnkit.training.engine import Engine

assert "cube" in nnkit.ACTIVATIONS.names(), nnkit.ACTIVATIONS.names()
check_activation("cube")
x = torch.randn(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
y = (x[:, :1] * x[:, 1:] > 0).double()
weights = []
for setting in ("native", "false"):
    torch.manual_seed(0)
    net = MLP(2, 1, hidden=[4, 3], activation="cube").double()
    engine = Engine(net, build_loss("mse"), "binary", 1, {"name": "sgd", "lr": 0.05})
    engine.start(setting)
    engine.train([(x[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)])
    weights.append((engine.path, net.network_params()))
(native, trained), (eager, reference) = weights
assert (native, eager) == ("native", "direct"), (native, eager)
for a, b in zip(trained, reference):
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
print("cube: registered, proved, native equal to eager")
"""


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def _follow_the_guide(package: Path) -> None:
    """The guide's Python block appended to the maths module, its C++ lines put where its
    comments say."""
    (python,) = _blocks("python")
    maths = package / "maths" / "more_functions.py"
    maths.write_text(maths.read_text() + "\n\n" + python)
    (cpp,) = _blocks("cpp")
    entry, value, slope = (part.strip() for part in re.split(r"^// .*$", cpp, flags=re.M)[1:])
    program = package / "native" / "program.cpp"
    source = program.read_text()
    for anchor, line in (
        ('X(kSine, "sine")', f" {entry}"),
        ("case kSine: return std::sin(x);", f"\n    {value}"),
        ("case kSine: return std::cos(x);", f"\n    {slope}"),
    ):
        assert source.count(anchor) == 1, anchor
        source = source.replace(anchor, anchor + line)
    program.write_text(source)


def _sources(folder: Path) -> list[Path]:
    """The package's files a person edits (none of Python's caches)."""
    return [f for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts]


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_the_guides_two_edits_make_a_proved_native_activation(tmp_path):
    copy = tmp_path / "nnkit"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    _follow_the_guide(copy)
    changed = [
        f for f in _sources(PACKAGE) if f.read_text() != (copy / f.relative_to(PACKAGE)).read_text()
    ]
    assert sorted(str(f.relative_to(PACKAGE)) for f in changed) == [
        "maths/more_functions.py", "native/program.cpp",
    ]  # fmt: skip  # two files, nothing else
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NNKIT_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "native equal to eager" in done.stdout
