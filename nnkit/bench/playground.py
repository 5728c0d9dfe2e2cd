"""The TensorFlow Playground's side of ``nnkit.bench.tiny``: its way of training, run by node
(``playground.js``), and its problem run through ``python -m nnkit.train``.

>>> PLAYGROUND_JS.exists()
True
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

PLAYGROUND_JS = Path(__file__).with_name("playground.js")


def node_rate(widths: Sequence[int], grid_size: int, seconds: float) -> float | None:
    """The JavaScript contender's epochs per second, or None without node."""
    node = shutil.which("node")
    if node is None:
        return None
    probe = json.dumps({"widths": list(widths), "epochs": 50, "grid": grid_size})
    first = json.loads(
        subprocess.run(
            [node, str(PLAYGROUND_JS), probe], capture_output=True, text=True, check=True
        ).stdout
    )
    epochs = max(20, int(first["epochs_per_s"] * seconds))
    options = json.dumps({"widths": list(widths), "epochs": epochs, "grid": grid_size})
    done = subprocess.run(
        [node, str(PLAYGROUND_JS), options], capture_output=True, text=True, check=True
    )
    return float(json.loads(done.stdout)["epochs_per_s"])


PLAYGROUND_RUN = [
    "data=circular", "data.n=358", "data.batch_size=10", "model.hidden=[4,2]",
    "model.activation=tanh", "loss=mse", "optimizer=sgd", "optimizer.lr=0.03",
    "trainer.progress_bar=none",
]  # fmt: skip  # 250 training points (70 % of 358), the Playground's network and settings


def cli_epochs_per_s(extra: Sequence[str] = (), epochs: int = 20_000) -> float:
    """Steady-state epochs per second of ``python -m nnkit.train`` on the Playground's problem
    (its defaults otherwise: validation every epoch, TensorBoard, checkpoints): one run of
    ``epochs``, timed by its own TensorBoard rows from the first data epoch's to the last's —
    every epoch's training, validation, metrics, logging and checkpoints counted; the
    interpreter's start and the end's figures and test not."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tempfile.TemporaryDirectory() as folder:
        run = [f"trainer.max_epochs={epochs}", f"hydra.run.dir={folder}/run"]
        command = [sys.executable, "-m", "nnkit.train", *PLAYGROUND_RUN, *extra, *run]
        subprocess.run(command, capture_output=True, check=True, cwd=folder)
        events = EventAccumulator(f"{folder}/run/tensorboard", size_guidance={"scalars": 0})
        events.Reload()
        rows = events.Scalars("val/acc")
    return (len(rows) - 1) / max(rows[-1].wall_time - rows[0].wall_time, 1e-9)
