"""The playground live, measured through a real WebSocket client: ``python -m nnkit.bench``.

The server runs as ``python -m nnkit.playground`` in its own process; the client plays a
session for a few seconds and counts epochs and frames, then changes the learning rate and
times the frame that shows it. The same session trained bare in a loop (``Session``, no server,
no frames) in this process is the reference: the playground should keep most of its rate
while it streams.

>>> PLAYGROUND_PROBLEM[0]
'data=circular'
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

PLAYGROUND_PROBLEM = [
    "data=circular", "data.n=358", "data.batch_size=10", "model.hidden=[4,2]",
    "model.activation=tanh", "loss=mse", "optimizer=sgd", "optimizer.lr=0.03",
]  # fmt: skip  # the TensorFlow Playground's default: 250 training points, 2-4-2-1 tanh
LARGE_PROBLEM = ["data=circular", "data.n=142858", "model.hidden=[64,64,64,64,64,64,64,64]",
                 "model.activation=tanh", "data.batch_size=10"]  # fmt: skip  # 100,000 points


def bare_steps_per_s(overrides: Sequence[str], seconds: float) -> float:
    """The session's optimizer steps per second trained in a loop, nothing streamed."""
    from nnkit.playground.session import Session

    session = Session(overrides)
    per_epoch = session.batches_per_epoch
    chunk = min(per_epoch, 1000)  # whole epochs of a small problem, long runs of a large one
    session.advance(chunk)
    first, start = session.steps, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.advance(chunk)
    return (session.steps - first) / (time.perf_counter() - start)


def live(overrides: Sequence[str], seconds: float) -> dict[str, float]:
    """Epochs and frames per second while a client plays, and the control's latency."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "nnkit.playground", "open=false", f"port={port}", *overrides]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None and "playground" in server.stdout.readline()
        return asyncio.run(_play(f"http://127.0.0.1:{port}", seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _play(url: str, seconds: float) -> dict[str, float]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(f"{url}/ws", origin=url, max_msg_size=64 * 2**20) as ws,
    ):
        await ws.send_json({"type": "configure", "settings": {}})
        while (await ws.receive_json())["type"] != "built":
            pass
        await ws.send_json({"type": "play"})
        frames, first, last = 0, None, None
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            message = await ws.receive_json()
            if message["type"] == "frame":
                frames += 1
                first = first or message
                last = message
        elapsed = time.perf_counter() - start
        sent = time.perf_counter()
        await ws.send_json({"type": "lr", "value": 0.011})
        while True:
            message = await ws.receive_json()
            if message["type"] == "frame" and message["lr"] == 0.011:
                latency = time.perf_counter() - sent
                break
    assert first is not None and last is not None
    return {
        "epochs/s while streaming": (last["epoch"] - first["epoch"]) / elapsed,
        "steps/s while streaming": (last["steps"] - first["steps"]) / elapsed,
        "frames/s": frames / elapsed,
        "a changed control shown after ms": 1000 * latency,
    }


def measure_live(repeats: int = 3, seconds: float = 3.0) -> dict[str, dict[str, float]]:
    """The Playground's problem and the large one, medians of ``repeats``."""
    results = {}
    problems = {
        "playground live, 2-4-2-1 tanh, 250 points": PLAYGROUND_PROBLEM,
        "playground live, 8 x 64 tanh, 100,000 points": LARGE_PROBLEM,
    }
    for name, overrides in problems.items():
        rows: dict[str, list[float]] = {}
        for _ in range(repeats):
            for key, value in live(overrides, seconds).items():
                rows.setdefault(key, []).append(value)
            bare = bare_steps_per_s(overrides, seconds)
            rows.setdefault("bare session steps/s", []).append(bare)
        row = {key: statistics.median(values) for key, values in rows.items()}
        row["streaming / bare"] = row["steps/s while streaming"] / row["bare session steps/s"]
        results[name] = row
    return results
