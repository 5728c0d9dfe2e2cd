"""The benchmark is a command; this proves it runs at a tiny size and that what it writes is
consistent (ratios are the rates divided, speed-ups the times divided) — no timing asserts."""

from __future__ import annotations

import json
import math

import pytest

from nnkit import bench


def test_bench_runs_at_a_tiny_size_and_writes_consistent_json(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--repeats", "1", "--scale", "0.001", "--out", str(out), "--no-end-to-end"]
    assert bench.main(argv) == 0
    report = json.loads(out.read_text())
    assert set(report["results"]) == {*bench.CASES, "replicas 7-4-10"}
    for case in bench.CASES:
        row = report["results"][case]
        for name in ("nnkit", "lightning", "nnkit-backend-torch", "sklearn"):
            rate, raw = row[f"{name} samples/s"], row["raw samples/s"]
            if math.isfinite(rate) and math.isfinite(raw):
                assert row[f"{name} / raw"] == pytest.approx(rate / raw)
    replicas = report["results"]["replicas 7-4-10"]
    assert replicas["replicas speed-up over loops"] == pytest.approx(
        replicas["loops s (3 seeds)"] / replicas["replicas s (3 seeds)"]
    )
    assert replicas["replicas ms per seed (30 seeds)"] > 0
    assert report["machine"]["torch"]
