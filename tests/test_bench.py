"""The benchmark is a command; this proves it runs at a tiny size and that what it writes is
consistent (ratios are the rates divided, speed-ups the times divided) — no timing asserts."""

from __future__ import annotations

import json
import math

import pytest

from nnkit.bench import cli, throughput
from nnkit.bench.machine import step_flops_per_sample
from nnkit.bench.replica_runs import Case, cli_seconds


def test_bench_runs_at_a_tiny_size_and_writes_consistent_json(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--repeats", "1", "--scale", "0.001", "--out", str(out), "--no-end-to-end",
            "--no-compile", "--no-replicas", "--no-tiny", "--no-live",
            "--no-classroom", "--no-browser"]  # fmt: skip
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


def test_the_replicas_command_lines_run_and_their_speed_up_is_their_times_divided():
    times = cli_seconds(Case(copies=0, epochs=1), seeds=1)  # the two real command lines
    assert times["cli replicas speed-up over multirun"] == pytest.approx(
        times["cli multirun s (1 seeds)"] / times["cli replicas s (1 seeds)"]
    )


def test_the_tiny_networks_bench_runs_every_contender_and_its_ratios_hold():
    from nnkit.bench import tiny

    results = tiny.measure_tiny(repeats=1, seconds=0.02)
    case = results["Playground problem 2-4-2-1 tanh"]
    names = ("nnkit eager", "nnkit native", "torch autograd", "playground (node)",
             "nnkit webassembly (node)")  # fmt: skip
    for name in names:
        assert case[f"{name} epochs/s"] > 0
        assert case[f"{name} µs/step"] == pytest.approx(1e6 / (25 * case[f"{name} epochs/s"]))
    assert case["nnkit native / playground"] == pytest.approx(
        case["nnkit native epochs/s"] / case["playground (node) epochs/s"]
    )
    assert case["nnkit webassembly / playground"] == pytest.approx(
        case["nnkit webassembly (node) epochs/s"] / case["playground (node) epochs/s"]
    )
    floor = results["machine"]["dispatch floor µs (one empty torch op)"]
    assert case["nnkit native µs/step in dispatch floors"] == pytest.approx(
        case["nnkit native µs/step"] / floor
    )
    assert "7-4-10 seven_segment, ReLU, cross-entropy, batch 10" in results
    assert "8 hidden layers of 64, tanh, batch 10" in results


def test_the_classroom_bench_plays_every_tab_at_once_through_real_websockets():
    from nnkit.bench.classroom import classroom

    row = classroom(tabs=3, seconds=1.5)
    assert row["frames/s per tab, slowest"] > 0 and row["epochs/s per tab, median"] > 0
    assert 0 < row["control shown after ms, median"] <= row["control shown after ms, slowest"]
    assert row["server memory MiB"] > 50  # torch and the three runs, in the server's process


def test_the_live_bench_plays_through_a_real_websocket():
    from nnkit.bench.live import PLAYGROUND_PROBLEM, live

    row = live(PLAYGROUND_PROBLEM, seconds=1.0)
    assert row["frames/s"] > 0 and row["steps/s while streaming"] > 0
    assert row["epochs/s while streaming"] * 25 <= row["steps/s while streaming"] * 1.01
    assert row["a changed control shown after ms"] > 0


def test_the_browser_bench_runs_both_engines_in_chromium_and_counts_the_page_s_frames():
    from nnkit.bench.browser import chromium_unavailable_reason, measure_browser

    if chromium_unavailable_reason() is not None:
        pytest.skip(chromium_unavailable_reason())
    (case,) = measure_browser(seconds=0.2, rounds=1).values()
    page, js = case["nnkit static page (chromium) epochs/s"], case["playground (chromium) epochs/s"]
    assert (
        page > 0 and js > 0 and case["nnkit static page / playground"] == pytest.approx(page / js)
    )
    assert case["static page frames/s, playing the Playground problem"] > 0
    assert case["static page frames/s, playing 8 x 64 on 10,000 points"] > 0
