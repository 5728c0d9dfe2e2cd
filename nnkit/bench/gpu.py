"""``python -m nnkit.bench.gpu``: the CUDA path's rates, for a GPU machine
(``scripts/gpu_check.sh`` runs it): the circle network at batch 32 and 1024 and the article's
7-4-10 network at 1, 20, 200 and 2000 replicas, each with ``trainer.compile`` off and on,
steady state (epoch ends read from the run's TensorBoard events), written as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from nnkit.bench.machine import machine
from nnkit.bench.replica_runs import Case
from nnkit.bench.throughput import epoch_ends, nnkit_run

REPLICAS = (1, 20, 200, 2000)


def steady(ends: list[float], samples_per_epoch: int) -> float:
    """Samples per second from the end of the first epoch to the end of the last."""
    if len(ends) < 2 or ends[-1] <= ends[0]:
        return float("nan")
    return (len(ends) - 1) * samples_per_epoch / (ends[-1] - ends[0])


def measure_gpu(scale: float = 1.0) -> dict[str, float]:
    results: dict[str, float] = {}
    for compiled in ("false", "true"):
        gpu = ["trainer.accelerator=gpu", f"trainer.compile={compiled}"]
        for n, batch in ((int(200_000 * scale), 1024), (int(20_000 * scale), 32)):
            ends = nnkit_run(max(n, 4 * batch), batch, 4, gpu)
            results[f"circle batch {batch} compile={compiled} samples/s"] = steady(
                ends, round(0.7 * max(n, 4 * batch))
            )
        case = Case(copies=max(1, int(199 * scale)), epochs=4)
        for replicas in REPLICAS:
            ends = epoch_ends([*case.args(), f"trainer.replicas={replicas}", *gpu])
            rate = steady(ends, 10 * (case.copies + 1) * replicas)
            results[f"7-4-10 x{replicas} compile={compiled} samples/s"] = rate
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnkit.bench.gpu", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", default="bench-gpu.json")
    args = parser.parse_args(argv)
    results = measure_gpu(args.scale)
    for key, value in results.items():
        print(f"{key:48s} {value:14.1f}")
    with open(args.out, "w") as file:
        json.dump({"machine": machine(), "results": results}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
