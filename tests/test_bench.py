"""The benchmark is a command; this proves it runs at a tiny size and that what it writes is
consistent (ratios are the rates divided, speed-ups the times divided) — no timing asserts."""

from __future__ import annotations

import json
import math

import pytest

from nnkit.bench import cli, throughput
from nnkit.bench.machine import step_flops_per_sample
from nnkit.bench.replicas import Case, measure_replicas


def test_bench_runs_at_a_tiny_size_and_writes_consistent_json(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--repeats", "1", "--scale", "0.001", "--out", str(out), "--no-end-to-end",
            "--no-compile", "--no-replicas"]  # fmt: skip
    assert cli.main(argv) == 0
    report = json.loads(out.read_text())
    results = report["results"]
    expected = {"machine", *throughput.CASES, "nnkit's network under autograd"}
    assert set(results) == expected
    peak = results["machine"]["matmul GFLOP/s (1 thread)"]
    assert peak > 0
    flops = step_flops_per_sample(throughput.WIDTHS)
    for case in throughput.CASES:
        row = results[case]
        assert "nnkit-compiled samples/s" not in row
        for name in ("nnkit", "lightning", "nnkit-backend-torch", "sklearn"):
            rate, raw = row[f"{name} samples/s"], row["raw samples/s"]
            if math.isfinite(rate) and math.isfinite(raw):
                assert row[f"{name} / raw"] == pytest.approx(rate / raw)
                assert row[f"{name} GFLOP/s"] == pytest.approx(rate * flops / 1e9)
        share = row["nnkit share of the machine's matmul rate"]
        assert share == pytest.approx(row["nnkit GFLOP/s"] / peak)
    autograd = results["nnkit's network under autograd"]
    assert autograd["batch 32 torch / nnkit"] == pytest.approx(
        autograd["batch 32 torch us/step"] / autograd["batch 32 nnkit us/step"]
    )
    assert report["machine"]["torch"]


def test_the_replicas_comparison_writes_consistent_speed_ups():
    replicas = measure_replicas(Case(copies=0, epochs=1), 2, 4, 100.0, warm_up=False)
    assert replicas["replicas speed-up over loops"] == pytest.approx(
        replicas["loops s (2 seeds)"] / replicas["replicas s (2 seeds)"]
    )
    assert replicas["cli replicas speed-up over multirun"] == pytest.approx(
        replicas["cli multirun s (2 seeds)"] / replicas["cli replicas s (2 seeds)"]
    )
    assert replicas["replicas ms per seed (4 seeds)"] > 0
    assert replicas["ms per seed at the machine's matmul rate"] == pytest.approx(
        1000 * replicas["matmul GFLOP per seed"] / 100.0
    )
