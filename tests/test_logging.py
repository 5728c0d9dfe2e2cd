"""What a run shows while it trains and leaves behind for other tools: plain logs outside a
terminal, gradient norms and hidden-unit figures in TensorBoard, CSV metrics, early stopping
and the debugging presets."""

from __future__ import annotations

import csv
import json

import torch

from nnkit.train import run
from tests.helpers import cli, event_tags

CIRCLE = ["data=circular", "data.n=300", "trainer.log_every_n_steps=2"]


def test_piped_output_has_plain_lines_and_tensorboard_has_the_new_views(tmp_path):
    result = cli(
        "nnkit.train", *CIRCLE, "trainer.max_epochs=10", "logger.name=[tensorboard,csv]",
        f"hydra.run.dir={tmp_path}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stdout and "\r" not in result.stderr
    assert "epochs: engine (trainer.epoch_loop=auto: many data epochs per" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == [f"{e}/10" for e in range(1, 11)]
    assert "val/acc" in lines[-1]
    tags = event_tags(tmp_path / "tensorboard")
    assert {"grad_norm/layers.0.weight", "grad_norm/layers.2.bias"} <= set(tags["scalars"])
    assert {"figures/hidden_units", "figures/decision_boundary"} <= set(tags["images"])
    with open(tmp_path / "csv" / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert "val/acc" in rows[0] and any(row["val/acc"] for row in rows)


def test_early_stopping_ends_a_run_that_stopped_improving(tmp_path):
    metrics = run(
        [
            *CIRCLE,
            "trainer.max_epochs=300",
            "trainer.early_stopping_patience=3",
            "trainer.progress_bar=none",
            "logger=none",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    stopped = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    assert stopped < 299 and metrics["val/acc"] > 0.5


def test_debug_presets_smoke_test_and_overfit_one_batch(tmp_path):
    smoke = cli("nnkit.train", "debug=fast_dev_run", f"hydra.run.dir={tmp_path / 'smoke'}")
    assert smoke.returncode == 0, smoke.stderr[-2000:]
    assert json.loads((tmp_path / "smoke" / "metrics.json").read_text())["val/loss"] > 0
    metrics = run(
        [
            "debug=overfit",
            *CIRCLE,
            "trainer.progress_bar=none",
            "logger=none",
            f"hydra.run.dir={tmp_path / 'overfit'}",
        ]
    )
    assert metrics["train/acc"] == 1.0  # one batch of 32 points, learnt by heart
