"""Kills at any moment: training is killed with SIGKILL at Hypothesis-chosen moments (start-up,
the first and last epochs, checkpoint writes — one every epoch here), each time restarted with
the same command and ``ckpt_path=last``, as a requeued job is; the run must end bit-identical
to one never killed: the same weights, the same ``metrics.json``.

The ``ci`` profile tries a few kill schedules; ``--hypothesis-profile=long`` tries dozens.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.helpers import cli

CHAOS = [
    "data=circular",
    "data.n=1000",
    "trainer.max_epochs=5",
    "scheduler=exponential",  # a rate that moves every step: its state in every checkpoint
    "scheduler.interval=step",
    "scheduler.gamma=0.999",
    "trainer.progress_bar=none",
    "trainer.checkpoint_interval_s=0",
    "logger=none",
    "ckpt_path=last",  # the requeued command line: from scratch until a checkpoint exists
]
EXAMPLES = 1 if settings.default.max_examples < 1000 else 40


def outcome(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict]:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return state, json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[dict, dict, float]:
    """The run never killed: its weights, its metrics and how long it took."""
    run_dir = tmp_path_factory.mktemp("whole")
    started = time.monotonic()
    result = cli("nnkit.train", *CHAOS, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-2000:]
    return (*outcome(run_dir), time.monotonic() - started)


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kills=st.lists(st.floats(0.05, 1.1), min_size=1, max_size=2))
@example(kills=[0.95])  # late: around the last epoch's checkpoint and metrics.json
def test_killed_at_any_moment_and_resumed_ends_bit_identical(uninterrupted, kills):
    weights, metrics, duration = uninterrupted
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        for fraction in kills:  # each kill lands that far into a (re)started run
            process = subprocess.Popen(
                [sys.executable, "-m", "nnkit.train", *CHAOS, f"hydra.run.dir={run_dir}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(fraction * duration)
            process.kill()
            _, stderr = process.communicate()
            assert process.returncode in (0, -9), stderr[-2000:]
        resumed = cli("nnkit.train", *CHAOS, f"hydra.run.dir={run_dir}")
        assert resumed.returncode == 0, (kills, resumed.stderr[-2000:])
        final_weights, final_metrics = outcome(run_dir)
        assert final_weights.keys() == weights.keys()
        assert all(torch.equal(final_weights[k], weights[k]) for k in weights), kills
        assert final_metrics == metrics, kills
