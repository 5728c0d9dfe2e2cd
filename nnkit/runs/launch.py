"""Which launcher started this process, and which job it belongs to.

Every process that SLURM's ``srun``, ``torchrun`` or Lightning's own spawn starts for one run is
a rank of that run: they share its folder, its lock and its checkpoints, and rank 0 alone
writes. ``current()`` reads the launcher's environment; ``job`` is the same string in every
process of one job (and different for any other job), which is what the run lock compares.

>>> current({"SLURM_JOB_ID": "42", "SLURM_STEP_ID": "0", "SLURM_PROCID": "1",
...          "SLURM_NTASKS": "2"}).job
'slurm-42.0'
>>> current({}).kind
'single'
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Launch:
    """How this process was started: ``kind`` (single, slurm, torchrun), the ``job`` every
    process of the run shares, this process's ``rank`` and the ``world_size``."""

    kind: str  # single, slurm, torchrun, or spawn (a worker Lightning's DDP started)
    job: str
    rank: int
    world_size: int  # 0 where the launcher does not say (Lightning's spawn)

    @property
    def multi_process(self) -> bool:
        """Whether a launcher started several processes for this run."""
        return self.kind != "single"


def current(env: Mapping[str, str] | None = None) -> Launch:
    """The launch this process belongs to, from the launchers' environment variables."""
    env = os.environ if env is None else env
    if "TORCHELASTIC_RUN_ID" in env and "RANK" in env:
        address = f"{env.get('MASTER_ADDR', 'localhost')}-{env.get('MASTER_PORT', '0')}"
        job = f"torchrun-{env['TORCHELASTIC_RUN_ID']}-{address}"
        return Launch("torchrun", job, int(env["RANK"]), int(env.get("WORLD_SIZE", "1")))
    if "SLURM_JOB_ID" in env and int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in env:
        job = f"slurm-{env['SLURM_JOB_ID']}.{env.get('SLURM_STEP_ID', 'batch')}"
        return Launch("slurm", job, int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]))
    if "LOCAL_RANK" in env and int(env.get("LOCAL_RANK", "0")) > 0:  # Lightning's DDP spawn
        return Launch("spawn", f"pid-{os.getppid()}", int(env["LOCAL_RANK"]), 0)
    return Launch("single", f"pid-{os.getpid()}", 0, 1)


def requeued(env: Mapping[str, str] | None = None) -> bool:
    """Whether SLURM restarted this job (a requeue after preemption, or submitit's requeue
    at a time limit): the job's run then continues from its own ``last.ckpt``.

    >>> requeued({"SLURM_RESTART_COUNT": "1"}), requeued({})
    (True, False)
    """
    env = os.environ if env is None else env
    return int(env.get("SLURM_RESTART_COUNT", "0") or 0) > 0


def complete_slurm_env(env: MutableMapping[str, str] | None = None) -> None:
    """``srun -n N`` sets ``SLURM_NTASKS`` without ``SLURM_NTASKS_PER_NODE``, which Lightning
    refuses ("use --ntasks-per-node"): where the tasks spread evenly over the nodes, fill it in,
    so ``srun -N1 -n2`` works as users write it.

    >>> env = {"SLURM_JOB_ID": "1", "SLURM_NTASKS": "4", "SLURM_NNODES": "2"}
    >>> complete_slurm_env(env)
    >>> env["SLURM_NTASKS_PER_NODE"]
    '2'
    """
    env = os.environ if env is None else env
    if "SLURM_JOB_ID" not in env or "SLURM_NTASKS_PER_NODE" in env or "SLURM_NTASKS" not in env:
        return
    tasks, nodes = int(env["SLURM_NTASKS"]), int(env.get("SLURM_NNODES", "1") or 1)
    if tasks % nodes == 0:
        env["SLURM_NTASKS_PER_NODE"] = str(tasks // nodes)
