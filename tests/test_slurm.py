"""On a real one-node SLURM cluster (``scripts/slurm_up.sh``; ``.ci/run`` brings it up): a
2-rank ``srun`` DDP run shares one run folder, a sweep through ``launcher=slurm`` becomes SLURM
jobs, and a job requeued mid-run (what preemption does) resumes and ends bit-identical to a
job never stopped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import cli

REPO = Path(__file__).resolve().parents[1]
COMMON = ["data=circular", "data.n=640", "trainer.max_epochs=2", "trainer.progress_bar=none"]


def _cluster_refusal() -> str | None:
    if shutil.which("sinfo") is None:
        return "no SLURM here: `bash scripts/slurm_up.sh` brings up a one-node cluster (root)"
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if not {"idle", "mixed", "allocated"} & set(states.stdout.split()):
        return f"SLURM has no node up ({states.stdout.strip() or states.stderr.strip()})"
    return None


REFUSAL = _cluster_refusal()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(REFUSAL is not None, reason=str(REFUSAL))]


def job_state(job: str) -> str:
    """The job's state as squeue shows it, or '' once it has left the queue."""
    shown = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True)
    return shown.stdout.strip()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_srun_starts_two_ranks_of_one_run(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        ["srun", "-N1", "-n2", "--cpus-per-task=1", sys.executable, "-m", "nnkit.train",
         *COMMON, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
         f"hydra.run.dir={run_dir}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("final metrics:") == 1 and "in use by another run" not in (
        result.stderr
    )
    events = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert len({e.name.split(".")[4] for e in events}) == 1  # rank 0 alone wrote
    assert json.loads((run_dir / "metrics.json").read_text())["val/acc"] > 0.5


def test_an_optuna_search_through_the_slurm_preset_runs_its_trials_as_slurm_jobs(tmp_path):
    """Each trial a SLURM job, reporting every epoch to the study in a database file that the
    jobs and the sweeper share."""
    import optuna

    url = f"sqlite:///{tmp_path}/studies.db"
    result = cli(
        "nnkit.train", "-m", "launcher=slurm", "hydra/sweeper=optuna", "hydra.sweeper.n_jobs=4",
        "hydra.sweeper.n_trials=4", "hydra/sweeper/pruner=median", f"hydra.sweeper.storage={url}",
        "hydra.sweeper.study_name=cluster", "optimizer.lr=tag(log,interval(0.001,0.1))",
        *COMMON, "logger=none", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=5",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "sweep" / "summary.json").read_text())
    assert sorted(job["job"] for job in summary["jobs"]) == ["0", "1", "2", "3"]
    logs = list((tmp_path / "sweep" / ".submitit").rglob("*_log.out"))
    assert len(logs) == 4  # each job ran as a SLURM job (submitit's logs, one per job)
    trials = optuna.load_study(study_name="cluster", storage=url).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert all(sorted(t.intermediate_values) == [0, 1] for t in trials)
    assert {t.user_attrs["run_dir"] for t in trials} == {
        str(tmp_path / "sweep" / job) for job in "0123"
    }


def submit(tmp_path: Path, name: str, *overrides: str) -> str:
    """``sbatch`` the repository's DDP script; the job id."""
    submitted = subprocess.run(
        ["sbatch", "--parsable", f"--output={tmp_path / name}-%j.out", "--cpus-per-task=1",
         str(REPO / "scripts" / "slurm_ddp.sbatch"), *overrides],
        capture_output=True, text=True, check=True, cwd=REPO,
        env={**os.environ, "NNKIT_RUNS": str(tmp_path / name), "NNKIT_ACCELERATOR": "cpu"},
    )  # fmt: skip
    return submitted.stdout.strip().split(";")[0]


def test_a_requeued_job_resumes_and_ends_bit_identical(tmp_path):
    # long enough (several seconds of epochs, each some 10 ms of arithmetic, whichever loop
    # runs them) that the requeue lands mid-training
    line = ["data=circular", "data.n=20000", "trainer.max_epochs=400", "logger=none",
            "trainer.progress_bar=none", "trainer.checkpoint_interval_s=0"]  # fmt: skip
    stopped, whole = submit(tmp_path, "stopped", *line), submit(tmp_path, "whole", *line)
    last = tmp_path / "stopped" / f"slurm-{stopped}" / "checkpoints" / "last.ckpt"
    wait_until(last.exists, 180, "the first checkpoint")
    time.sleep(1.0)
    subprocess.run(["scontrol", "requeue", stopped], check=True)  # what preemption does
    wait_until(lambda: job_state(stopped) == "PENDING", 120, "the requeued job to be pending")
    # SLURM holds a requeued job for two minutes (Reason=BeginTime); let it start now
    subprocess.run(["scontrol", "update", f"JobId={stopped}", "StartTime=now"], check=True)
    for job in (stopped, whole):
        wait_until(lambda job=job: job_state(job) == "", 300, f"job {job} to finish")
    log = next((tmp_path).glob(f"stopped-{stopped}.out")).read_text()
    assert "SLURM requeued this job: resuming" in log, log[-3000:]
    a = torch.load(last, weights_only=True)
    b = torch.load(tmp_path / "whole" / f"slurm-{whole}" / "checkpoints" / "last.ckpt",
                   weights_only=True)  # fmt: skip
    assert a["global_step"] == b["global_step"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
