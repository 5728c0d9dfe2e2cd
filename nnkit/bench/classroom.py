"""A classroom on one machine, measured: ``python -m nnkit.bench classroom [--tabs 1,8,30]``.

The server runs as ``python -m nnkit.playground`` with a token, in its own process; N real
WebSocket clients (the tabs) each build the Playground's problem and play it at once, for a
few seconds. Measured: the frames a second each tab receives, the epochs a second each
trains, the time a changed control (a new learning rate) takes to show in a tab's frame, and
the server's memory. The playground's ``MAX_TABS`` and its message to a tab past it come from
these figures (docs: Playground).

>>> row = summary([[10.0, 12.0], [11.0, 13.0]], [0.05, 0.07], [1.0, 1.1], 300.0)
>>> row["frames/s per tab, median"], row["server memory MiB"]
(11.5, 300.0)
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from nnkit.bench.live import PLAYGROUND_PROBLEM

TOKEN = "classroom-bench"


def summary(
    frames: list[list[float]], latencies: list[float], epochs: list[float], memory_mib: float
) -> dict[str, float]:
    """One classroom's row: per-tab frame rates (each tab's samples), control latencies (s),
    per-tab epochs a second and the server's memory."""
    per_tab = [statistics.median(samples) for samples in frames]
    return {
        "frames/s per tab, median": statistics.median(per_tab),
        "frames/s per tab, slowest": min(per_tab),
        "epochs/s per tab, median": statistics.median(epochs),
        "control shown after ms, median": 1000 * statistics.median(latencies),
        "control shown after ms, slowest": 1000 * max(latencies),
        "server memory MiB": memory_mib,
    }


def classroom(tabs: int, seconds: float, host: str = "127.0.0.1") -> dict[str, float]:
    """``tabs`` tabs playing on one server for ``seconds``; their figures (``summary``)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "nnkit.playground", "open=false", f"host={host}",
               f"port={port}", f"token={TOKEN}", f"tabs={tabs}", *PLAYGROUND_PROBLEM]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None and "playground" in server.stdout.readline()
        url = f"http://{host}:{port}"
        frames, latencies, epochs = asyncio.run(_classroom(url, tabs, seconds))
        return summary(frames, latencies, epochs, _memory_mib(server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _classroom(url: str, tabs: int, seconds: float):
    import aiohttp

    async with aiohttp.ClientSession() as client:
        sockets = [
            await client.ws_connect(f"{url}/ws?token={TOKEN}", origin=url, max_msg_size=2**26)
            for _ in range(tabs)
        ]
        for ws in sockets:
            await ws.send_json({"type": "configure", "settings": {}})
        played = await asyncio.gather(*(_play(ws, seconds) for ws in sockets))
        for ws in sockets:
            await ws.close()
    frames = [frame_rates for frame_rates, _, _ in played]
    latencies = [latency for _, latency, _ in played]
    epochs = [rate for _, _, rate in played]
    return frames, latencies, epochs


async def _play(ws, seconds: float) -> tuple[list[float], float, float]:
    """One tab: built, playing for ``seconds`` (its frames a second, each second), then a new
    learning rate and the time until a frame shows it; its epochs a second."""
    while (await _receive(ws))["type"] != "built":
        pass
    await ws.send_json({"type": "play"})
    start = time.perf_counter()
    rates, count, second, first, last = [], 0, start + 1.0, None, None
    while (now := time.perf_counter()) - start < seconds:
        message = await _receive(ws)
        if message["type"] != "frame":
            continue
        first, last, count = first or message, message, count + 1
        if now >= second:
            rates.append(float(count))
            count, second = 0, second + 1.0
    elapsed = time.perf_counter() - start
    sent = time.perf_counter()
    await ws.send_json({"type": "lr", "value": 0.011})
    while True:
        message = await _receive(ws)
        if message["type"] == "frame" and message["lr"] == 0.011:
            break
    latency = time.perf_counter() - sent
    epochs = (last["epoch"] - first["epoch"]) / elapsed if first and last else 0.0
    return rates or [float(count) / elapsed], latency, epochs


async def _receive(ws) -> dict:
    """The tab's next message; the server's refusal (an error) raised as it says it."""
    message = await ws.receive_json(timeout=120)
    if message["type"] == "error":
        raise RuntimeError(message["message"])
    return message


def _memory_mib(pid: int) -> float:
    """A process's resident memory, from ``/proc`` (0 where there is none)."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return 0.0
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_classroom(
    tab_counts: Sequence[int] = (1, 8, 30), seconds: float = 6.0
) -> dict[str, dict[str, float]]:
    """A row per classroom size."""
    return {f"classroom, {n} tabs playing": classroom(n, seconds) for n in tab_counts}
