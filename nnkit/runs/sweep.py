"""The summary of a Hydra multirun: one row per job, its overrides and final metrics.

Written as ``summary.json`` and ``summary.md`` in the sweep folder; TensorBoard's HPARAMS tab
compares the same runs (``tensorboard --logdir SWEEP_FOLDER``).
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from nnkit.runs.storage import write_atomic

FAILURE_NAME = "failure.json"


def record_failure(job_dir: Path, error: BaseException) -> None:
    """Write why a sweep's job failed into its folder (the summary lists it)."""
    reason = {"error": type(error).__name__, "reason": str(error)}
    write_atomic(job_dir / FAILURE_NAME, (json.dumps(reason, indent=2) + "\n").encode())


def collect(sweep_dir: Path) -> list[dict]:
    """Every job under ``sweep_dir`` that finished or failed: its number, overrides, and its
    metrics or its failure."""
    rows = []
    folders = {p.parent for p in sweep_dir.glob(f"*/{FAILURE_NAME}")}
    folders |= {p.parent for p in sweep_dir.glob("*/metrics.json")}
    for folder in sorted(folders, key=_job):
        overrides_file = folder / ".hydra" / "overrides.yaml"
        overrides = list(OmegaConf.load(overrides_file)) if overrides_file.exists() else []
        shown = [o for o in overrides if not o.startswith("hydra.")]
        row = {"job": folder.name, "overrides": shown, "metrics": {}}
        if (folder / "metrics.json").exists():
            row["metrics"] = json.loads((folder / "metrics.json").read_text())
        else:
            row["failure"] = json.loads((folder / FAILURE_NAME).read_text())
        rows.append(row)
    return rows


def _job(folder: Path) -> tuple[int, str]:
    return (int(folder.name), "") if folder.name.isdigit() else (1 << 30, folder.name)


def best_job(rows: list[dict]) -> dict | None:
    """The job whose objective is best (in its own direction), or None without objectives."""
    scored = [r for r in rows if isinstance(r["metrics"].get("objective"), dict)]
    scored = [r for r in scored if "pruned" not in r["metrics"]]  # stopped before its end
    scored = [r for r in scored if r["metrics"]["objective"]["value"] is not None]
    if not scored:
        return None

    def score(row: dict) -> float:
        objective = row["metrics"]["objective"]
        return objective["value"] if objective["mode"] == "max" else -objective["value"]

    return max(scored, key=score)


def _status(row: dict) -> str:
    if "failure" in row:
        return f"FAILED: {row['failure']['reason']}"
    if "pruned" in row["metrics"]:
        return f"PRUNED after epoch {row['metrics']['pruned']['epoch']}"
    return "ok"


def summarize(sweep_dir: Path) -> tuple[str, bool]:
    """Write summary.json and summary.md (the best job first, failed jobs with their reason);
    return the table as text and whether any job succeeded."""
    rows = collect(sweep_dir)
    best = best_job(rows)
    keys = sorted({k for row in rows for k in row["metrics"] if k.startswith(("val/", "test/"))})
    header = ["job", "overrides", *keys, "status"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        values = [f"{row['metrics'][k]:.4g}" if k in row["metrics"] else "" for k in keys]
        status = _status(row)
        cells = [row["job"], " ".join(row["overrides"]), *values, status.replace("|", "/")]
        lines.append("| " + " | ".join(cells) + " |")
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
    failed = sum("failure" in row for row in rows)
    pruned = sum("pruned" in row["metrics"] for row in rows)
    counts = f"{len(rows)} runs" + (f", {failed} failed" if failed else "")
    counts += f", {pruned} pruned" if pruned else ""
    text = f"sweep summary ({counts}, {sweep_dir / 'summary.md'}):\n{table}"
    return text, failed < len(rows)
