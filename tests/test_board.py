"""Every TensorBoard tab a run fills, read back through a real TensorBoard server's HTTP data
endpoints (the ones its web page reads), not only from the event files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nnkit.train import run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Iterator[str]:
    """A binary run with a small network, served by ``tensorboard`` on 127.0.0.1: its URL."""
    run_dir = tmp_path_factory.mktemp("run")
    run(["data=circular", "data.n=300", "model.hidden=[8]", "trainer.max_epochs=3",
         "trainer.log_every_n_steps=2", "trainer.progress_bar=none",
         f"hydra.run.dir={run_dir}"])  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(run_dir / "tensorboard"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                get(url, "/data/plugins_listing")
                break
            except OSError:
                assert server.poll() is None and time.time() < deadline, "tensorboard did not start"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def get(url: str, path: str) -> object:
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.loads(response.read())


def tags(url: str, plugin: str) -> set[str]:
    found = get(url, f"/data/plugin/{plugin}/tags")
    return {tag for run_tags in found.values() for tag in run_tags}


def test_scalars_and_the_custom_scalars_layout(board):
    assert {
        "train/loss_epoch",
        "val/loss",
        "train/acc",
        "val/acc",
        "grad_norm/layers.0.weight",
    } <= (tags(board, "scalars"))
    layout = json.dumps(get(board, "/data/plugin/custom_scalars/layout"))
    assert (
        "train and validation" in layout and "val/loss" in layout and "train/loss_epoch" in layout
    )


def test_images_hold_the_figures_and_the_drawn_network(board):
    assert {"figures/decision_boundary", "figures/hidden_units", "figures/network"} <= tags(
        board, "images"
    )


def test_text_holds_the_config_and_the_summary(board):
    assert {"config/text_summary", "summary/text_summary"} <= tags(board, "text")


def test_pr_curves_projector_and_graph(board):
    assert "pr_curve/val" in tags(board, "pr_curves")
    runs = get(board, "/data/plugin/projector/runs")
    assert runs, "the projector has no run"
    info = json.dumps(get(board, f"/data/plugin/projector/info?run={runs[0]}"))
    assert "last_hidden_layer" in info
    graphs = json.dumps(get(board, "/data/plugin/graphs/info"))
    assert '"run_graph": true' in graphs


def test_a_run_without_tensorboard_writes_none_of_it(tmp_path: Path):
    run(["data=circular", "data.n=200", "model.hidden=[4]", "trainer.max_epochs=1",
         "trainer.progress_bar=none", "logger=csv", f"hydra.run.dir={tmp_path}"])  # fmt: skip
    assert not (tmp_path / "tensorboard").exists()
