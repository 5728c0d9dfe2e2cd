"""The bench's command line: every comparison, printed and written as JSON (``--out``).

>>> format_results({"case": {"raw samples/s": 1.0}})
'case\\n  raw samples/s                                       1.000'
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence

import torch

from nnkit.bench.machine import machine, matmul_gflops


def format_results(results: dict[str, dict[str, float]]) -> str:
    lines = []
    for case, row in results.items():
        lines.append(case)
        lines += [f"  {k:44s} {v:12.3f}" for k, v in row.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; ``--scale`` below 0.1 is a quick look (few seeds, few steps)."""
    parser = argparse.ArgumentParser(
        prog="python -m nnkit.bench", description="nnkit against the programs it must beat"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="data size factor (tests: tiny)")
    parser.add_argument("--out", default="bench.json")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the CLI timing")
    parser.add_argument("--no-replicas", action="store_true", help="skip the many-seeds case")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile timings")
    parser.add_argument("--no-tiny", action="store_true", help="skip the article's networks")
    parser.add_argument("--no-live", action="store_true", help="skip the playground's server")
    parser.add_argument("--no-classroom", action="store_true", help="skip the 1-30 tab classroom")
    parser.add_argument(
        "--no-browser", action="store_true", help="skip the static page in Chromium"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    peak = matmul_gflops()
    results: dict[str, dict[str, float]] = {"machine": {"matmul GFLOP/s (1 thread)": peak}}
    results.update(_throughput(args, peak))
    from nnkit.bench.autograd import STEPS, measure_autograd

    steps = max(20, int(STEPS * min(1.0, 10 * args.scale)))
    results["nnkit's network under autograd"] = measure_autograd(args.repeats, steps=steps)
    if not args.no_tiny:
        results.update(_tiny(args, peak))
    if not args.no_live:
        from nnkit.bench.live import measure_live

        results.update(measure_live(args.repeats, 3.0 if args.scale >= 0.1 else 0.5))
    if not args.no_classroom:
        from nnkit.bench.classroom import measure_classroom

        full = args.scale >= 0.1
        results.update(measure_classroom((1, 8, 30) if full else (1, 3), 6.0 if full else 1.0))
    if not args.no_browser:
        from nnkit.bench.browser import measure_browser

        results.update(measure_browser(1.0 if args.scale >= 0.1 else 0.2, args.repeats))
    if not args.no_replicas:
        from nnkit.bench.replica_runs import Case, measure_replicas

        small = args.scale < 0.1
        case = Case(copies=4, epochs=2) if small else Case()
        seeds = 3 if small else 20
        results["replicas 7-4-10"] = measure_replicas(case, seeds, 10 * seeds, peak, not small)
    if not args.no_end_to_end:
        from nnkit.bench.end_to_end import measure_end_to_end

        results["end-to-end seven_segment"] = measure_end_to_end(args.repeats)
    print(format_results(results))
    with open(args.out, "w") as file:
        json.dump({"machine": machine(), "results": results}, file, indent=2)
    return 0


def _tiny(args: argparse.Namespace, peak: float) -> dict[str, dict[str, float]]:
    """The Playground's problem and the article's networks; with the end-to-end timing, the
    same problem through ``python -m nnkit.train``."""
    from nnkit.bench import playground, tiny

    seconds = 1.0 if args.scale >= 0.1 else 0.05
    results = tiny.measure_tiny(args.repeats, seconds, peak)
    if not args.no_end_to_end:
        case = results["Playground problem 2-4-2-1 tanh"]
        rates: list[float] = []
        contender: list[float] = []
        for _ in range(args.repeats):  # interleaved with the JavaScript contender
            rate = playground.node_rate([2, 4, 2, 1], 0, seconds)
            contender += [rate] if rate is not None else []
            rates.append(playground.cli_epochs_per_s())
        case["python -m nnkit.train epochs/s (steady state)"] = statistics.median(rates)
        if contender:
            js = statistics.median(contender)
            case["playground (node) epochs/s beside nnkit.train"] = js
            case["python -m nnkit.train / playground"] = statistics.median(rates) / js
    return results


def _throughput(args: argparse.Namespace, peak: float) -> dict[str, dict[str, float]]:
    from nnkit.bench import throughput

    contenders = dict(throughput.CONTENDERS)
    if args.no_compile:
        contenders = {k: v for k, v in contenders.items() if "compiled" not in k}
    results = throughput.measure(args.repeats, args.scale, peak, contenders)
    if not args.no_compile:
        results["torch.compile"] = throughput.compile_seconds(args.repeats)
    return results
