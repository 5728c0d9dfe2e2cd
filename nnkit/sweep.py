"""The summary of a Hydra multirun: one row per job, its overrides and final metrics.

Written as ``summary.json`` and ``summary.md`` in the sweep folder; TensorBoard's HPARAMS tab
compares the same runs (``tensorboard --logdir SWEEP_FOLDER``).
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from nnkit.storage import write_atomic


def collect(sweep_dir: Path) -> list[dict]:
    """Every finished job under ``sweep_dir``: its number, overrides and metrics."""
    rows = []
    for metrics_file in sorted(sweep_dir.glob("*/metrics.json"), key=lambda p: _job(p.parent)):
        overrides_file = metrics_file.parent / ".hydra" / "overrides.yaml"
        overrides = list(OmegaConf.load(overrides_file)) if overrides_file.exists() else []
        shown = [o for o in overrides if not o.startswith("hydra.")]
        rows.append(
            {
                "job": metrics_file.parent.name,
                "overrides": shown,
                "metrics": json.loads(metrics_file.read_text()),
            }
        )
    return rows


def _job(folder: Path) -> tuple[int, str]:
    return (int(folder.name), "") if folder.name.isdigit() else (1 << 30, folder.name)


def best_job(rows: list[dict]) -> dict | None:
    """The job whose objective is best (in its own direction), or None without objectives."""
    scored = [r for r in rows if isinstance(r["metrics"].get("objective"), dict)]
    scored = [r for r in scored if r["metrics"]["objective"]["value"] is not None]
    if not scored:
        return None

    def score(row: dict) -> float:
        objective = row["metrics"]["objective"]
        return objective["value"] if objective["mode"] == "max" else -objective["value"]

    return max(scored, key=score)


def summarize(sweep_dir: Path) -> str:
    """Write summary.json and summary.md (the best job first); return the table as text."""
    rows = collect(sweep_dir)
    best = best_job(rows)
    keys = sorted({k for row in rows for k in row["metrics"] if k.startswith(("val/", "test/"))})
    header = ["job", "overrides", *keys]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        values = [f"{row['metrics'][k]:.4g}" if k in row["metrics"] else "" for k in keys]
        lines.append("| " + " | ".join([row["job"], " ".join(row["overrides"]), *values]) + " |")
    table = "\n".join(lines)
    if best is not None:
        objective = best["metrics"]["objective"]
        table = (
            f"best: job {best['job']} ({' '.join(best['overrides']) or 'no overrides'}), "
            f"{objective['name']} = {objective['value']:.4g} ({objective['mode']}imised)\n\n"
            + table
        )
    summary = json.dumps({"best": best and best["job"], "jobs": rows}, indent=2) + "\n"
    write_atomic(sweep_dir / "summary.json", summary.encode())
    write_atomic(sweep_dir / "summary.md", (table + "\n").encode())
    return f"sweep summary ({len(rows)} runs, {sweep_dir / 'summary.md'}):\n{table}"
