"""Past one process: every rank of one run shares its folder and lock; DDP's validation and test
metrics cover the whole split; ``torchrun`` on two "machines" of localhost trains the weights
one process would train with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nnkit.predict import load_model
from nnkit.runs.launch import current
from nnkit.runs.lock import run_lock
from tests.helpers import cli

COMMON = ["data=circular", "data.n=640", "trainer.max_epochs=2", "trainer.progress_bar=none",
          "logger=none", "optimizer=sgd", "optimizer.lr=0.1"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_ranks_of_one_job_share_the_lock_and_other_runs_are_refused(tmp_path):
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "2"}
    probe = (
        "import sys; from pathlib import Path; from nnkit.runs.lock import run_lock\n"
        "try:\n    with run_lock(Path(sys.argv[1])): print('shared')\n"
        "except Exception as error: print(error)"
    )

    def rank(**env: str) -> str:
        environment = {**os.environ, **slurm, **env}
        done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True,
                              text=True, env=environment, timeout=60)  # fmt: skip
        return done.stdout.strip()

    with run_lock(tmp_path, current({**slurm, "SLURM_PROCID": "0"})):
        assert rank(SLURM_PROCID="1") == "shared"  # a rank of the same job
        refused = rank(SLURM_PROCID="1", SLURM_JOB_ID="8")  # another job
        assert f"in use by another run (process {os.getpid()}" in refused
        assert "job slurm-7.0" in refused


@pytest.mark.slow
def test_ddp_validation_and_test_metrics_cover_the_whole_split(tmp_path):
    run_dir = tmp_path / "ddp"
    result = cli("nnkit.train", *COMMON, "data.n=650", "trainer=ddp_cpu",
                 f"hydra.run.dir={run_dir}", timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("final metrics:") == 1  # rank 0 alone reports and writes
    metrics = json.loads((run_dir / "metrics.json").read_text())
    from nnkit.data.planar import circular

    net, _ = load_model(run_dir / "checkpoints" / "last.ckpt")
    data = circular(n=650)  # 97 validation points: the two ranks' shards are unequal
    for stage, (x, y) in (("val", data.val), ("test", data.test)):
        with torch.no_grad():
            out = net(x)
        accuracy = float(((out >= 0).float() == y).float().mean())
        loss = float(torch.nn.functional.binary_cross_entropy_with_logits(out, y))
        assert metrics[f"{stage}/acc"] == pytest.approx(accuracy, abs=1e-6)
        assert metrics[f"{stage}/loss"] == pytest.approx(loss, rel=1e-5)


@pytest.mark.slow
def test_torchrun_on_two_nodes_trains_what_one_process_trains(tmp_path):
    """Two torchrun "machines" of one process each (gloo), a batch of 16 each, against one
    process with a batch of 32: the same samples in every step, the same weights."""
    port, run_dir = free_port(), tmp_path / "two"
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                "--nproc-per-node=1",
                f"--node-rank={rank}",
                "--master-addr=127.0.0.1",
                f"--master-port={port}",
                "-m",
                "nnkit.train",
                *COMMON,
                "trainer=ddp",
                "trainer.accelerator=cpu",
                "trainer.devices=1",
                "trainer.num_nodes=2",
                "data.batch_size=16",
                f"hydra.run.dir={run_dir}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, err) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, err[-3000:]
    assert outputs[0][0].count("final metrics:") + outputs[1][0].count("final metrics:") == 1
    one = cli("nnkit.train", *COMMON, "data.batch_size=32", f"hydra.run.dir={tmp_path / 'one'}")
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = weights(run_dir), weights(tmp_path / "one")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    two = json.loads((run_dir / "metrics.json").read_text())
    single = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert two["val/acc"] == pytest.approx(single["val/acc"], abs=1e-6)
