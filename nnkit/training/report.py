"""What a finished run leaves: ``metrics.json`` (with the objective and the gradient proof),
the hyperparameters and the summary in its loggers, each replica's metrics, and the summary
printed at the end.

>>> replica_summary({"replicas": [{"val/acc": 1.0}, {"val/acc": 0.5}]}, "val/acc")
'replicas: 2; val/acc mean 0.75, min 0.5, max 1; solved 1/2'
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger

from nnkit.config.prepare import Prepared
from nnkit.runs.storage import write_atomic
from nnkit.training.lightning_module import NNKitModule


def replica_metrics(scores: dict[str, Any]) -> list[dict[str, float]]:
    """Each replica's final metrics, from the per-replica values the module kept."""
    count = len(next(iter(scores.values()))) if scores else 0
    return [{key: float(values[r]) for key, values in sorted(scores.items())} for r in range(count)]


def replica_summary(metrics: dict[str, Any], monitor: str) -> str:
    """Mean, min and max of the monitored metric over replicas, and for accuracy how many
    replicas solved the task (reached 1.0)."""
    values = [replica[monitor] for replica in metrics["replicas"] if monitor in replica]
    if not values:
        return ""
    line = (
        f"replicas: {len(values)}; {monitor} mean {sum(values) / len(values):.4g}, "
        f"min {min(values):.4g}, max {max(values):.4g}"
    )
    if monitor.endswith("acc"):
        line += f"; solved {sum(v == 1.0 for v in values)}/{len(values)}"
    return line


def finish(
    trainer: pl.Trainer,
    module: NNKitModule,
    metrics: dict[str, Any],
    run_dir: Path,
    prepared: Prepared,
) -> None:
    """Write metrics.json (with the objective and the gradient proof) and the
    hyperparameters, and print the summary."""
    name, mode = module.objective_metric
    metrics["objective"] = {"name": name, "mode": mode, "value": metrics.get(name)}
    if len(prepared.objectives) > 1:  # a multi-objective search's values, in their order
        metrics["objectives"] = [
            {"name": n, "mode": m, "value": metrics.get(n)} for n, m in prepared.objectives
        ]
    metrics["proof"] = prepared.proof.as_dict()
    text = json.dumps(metrics, indent=2, sort_keys=True) + "\n"
    write_atomic(run_dir / "metrics.json", text.encode())
    numbers = {k: v for k, v in metrics.items() if isinstance(v, float)}
    summary = run_summary(module, metrics, numbers, run_dir, prepared)
    hp_metrics = {
        f"hparams/{k.replace('/', '_')}": v for k, v in numbers.items() if math.isfinite(v)
    }
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(prepared.config, metrics=hp_metrics)  # the HPARAMS tab
            logger.experiment.add_text("summary", "```\n" + summary + "\n```", 0)  # the Text tab
        else:
            logger.log_hyperparams(prepared.config)
        logger.finalize("success")
    print("\n" + summary)
    if any(isinstance(logger, TensorBoardLogger) for logger in trainer.loggers):
        print(f"tensorboard --logdir {run_dir}")


def run_summary(
    module: NNKitModule,
    metrics: dict[str, Any],
    numbers: dict[str, float],
    run_dir: Path,
    prepared: Prepared,
) -> str:
    """The run's summary: final metrics, replicas, data, backpropagation, proof, folder."""
    width = max(len(k) for k in numbers) if numbers else 0
    lines = ["final metrics:"] + [
        f"  {k.ljust(width)}  {v:.4g}" for k, v in sorted(numbers.items())
    ]
    if "replicas" in metrics:
        lines.append(replica_summary(metrics, module.objective_metric[0]))
    lines += [
        prepared.data.summary(),
        f"backpropagation: {module.backprop}",
        f"step: {module.engine.path} ({module.engine.reason})" if module.engine.reason else "",
        f"epochs: {module.epoch_loop} ({module.epoch_loop_reason})"
        if module.epoch_loop_reason
        else "",
        prepared.proof.summary(),
        f"run folder: {run_dir}",
    ]
    return "\n".join(line for line in lines if line)
