"""``python -m nnkit.script``: a run as plain PyTorch, run where nnkit cannot be imported — it
trains the run's very weights and reaches the run's accuracy."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

from tests.helpers import cli

RUNS = {
    "binary: features, L2, momentum, a warm-up then cosine per step, normalizations, dropout, "
    "a residual connection": [
        "data=circular", "data.n=300", "model.hidden=[4,4]", "model.activation=tanh",
        "model.norm=[batch,layer]", "model.dropout=0.2", "model.residual=true",
        "model.features=[x1,x2,x1_sq,x2_sq]", "optimizer=sgd", "optimizer.lr=0.1",
        "optimizer.momentum=0.9", "regularization.kind=l2", "regularization.rate=0.001",
        "scheduler=warmup_cosine", "scheduler.interval=step", "scheduler.warmup=20",
        "trainer.max_epochs=12",
    ],
    "multiclass: MSE on sigmoids, Adam, a plateau": [
        "data=seven_segment", "loss=mse", "model.hidden=[8]", "model.activation=leaky_relu",
        "+model.activation_args.slope=0.1", "optimizer=adam", "optimizer.lr=0.05",
        "scheduler=plateau", "scheduler.patience=2", "trainer.max_epochs=40",
    ],
}  # fmt: skip
WITHOUT_NNKIT = (
    "import runpy, sys, torch\n"
    "sys.modules['nnkit'] = None  # import nnkit fails here\n"
    "net = runpy.run_path(sys.argv[1])['main']()\n"
    "torch.save(net.state_dict(), sys.argv[2])\n"
)


@pytest.mark.parametrize("name", list(RUNS))
def test_the_script_trains_the_runs_weights_without_nnkit(tmp_path, name):
    overrides = [*RUNS[name], "trainer.progress_bar=none", "logger=none"]
    done = cli("nnkit.train", *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    assert done.returncode == 0, done.stderr[-2000:]
    written = cli("nnkit.script", *RUNS[name])
    assert written.returncode == 0, written.stderr[-2000:]
    script = tmp_path / "run.py"
    script.write_text(written.stdout)
    assert "nnkit" not in re.sub(r'"""[\s\S]*?"""|#.*', "", written.stdout)  # torch only
    ran = subprocess.run([sys.executable, "-c", WITHOUT_NNKIT, str(script), str(tmp_path / "w.pt")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    accuracy = float(re.search(r"test acc ([\d.]+)", ran.stdout).group(1))  # type: ignore[union-attr]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert accuracy == pytest.approx(metrics["test/acc"], abs=1e-4)
    ours = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    theirs = torch.load(tmp_path / "w.pt", weights_only=True)
    trained = [v for k, v in ours["state_dict"].items() if "dropout_" not in k]  # ours alone
    for a, b in zip(trained, theirs.values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_what_torch_has_no_layer_for_is_refused_in_one_line():
    done = cli("nnkit.script", "data=xor", "model.activation=step")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("nnkit.script: error: model.activation='step' has no torch")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_the_script_is_code_first_and_numbers_last():
    written = cli("nnkit.script", "data=xor", "data.n=60", "data.batch_size=8").stdout
    code, numbers = written.split("# The numbers:")
    assert 45 <= len(code.strip().splitlines()) <= 90 and "def data()" in numbers
    assert max(len(line) for line in written.splitlines()) <= 100
