"""Explaining one step and drawing the network: the article's worked example reproduced, nnkit's
hand-derived numbers equal to torch autograd's, drawings of real runs written as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nnkit import draw, explain
from nnkit.train import run
from nnkit.viz.step import article_network, largest_difference, trace, trace_with_autograd

QUICK = ["trainer.max_epochs=2", "trainer.progress_bar=none", "logger=none"]


def test_the_article_worked_example_is_reproduced(capsys):
    assert explain.main(["example=article", "input=[1,0.5]", "target=[1]", "lr=0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    hidden = [line.split() for line in lines if line.startswith("hidden 1 (relu)")]
    assert [row[4:6] for row in hidden] == [["3.25", "3.25"], ["-0.3", "0"]]
    output = next(line.split() for line in lines if line.startswith("output"))
    assert output[2] == "6.5" and "answer: 0.9985" in lines
    difference = float(lines[-1].rsplit(" ", 1)[1])
    assert difference <= 1e-15


def test_the_step_by_pairs_equals_torch_autograd_for_any_example():
    net = article_network()
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        x = torch.randn(3, 2, generator=generator, dtype=torch.float64)
        target = torch.rand(3, 1, generator=generator, dtype=torch.float64)
        ours, theirs = trace(net, x, target, lr=0.3), trace_with_autograd(net, x, target, lr=0.3)
        assert largest_difference(ours, theirs) <= 1e-14
        assert ours.cost == pytest.approx(theirs.cost, rel=1e-14)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runs")
    runs = {
        "seven_segment": ["data=seven_segment"],
        "circular": ["data=circular", "data.n=200"],
        "replicas": ["data=seven_segment", "model.hidden=[4]", "trainer.replicas=3"],
    }
    for name, line in runs.items():
        run([*line, *QUICK, f"hydra.run.dir={folder / name}"])
    return {name: folder / name / "checkpoints" / "last.ckpt" for name in runs}


@pytest.mark.parametrize(
    ("run_name", "argv"),
    [
        ("seven_segment", ["input=[1,0,1,1,1,1,1]", "target=[6]"]),
        ("circular", ["input=[0.1,0.2]", "target=[1]"]),
        ("replicas", ["input=[1,0,1,1,1,1,1]", "target=[6]", "replica=worst"]),
    ],
)
def test_explain_and_draw_real_runs(checkpoints, tmp_path, capsys, run_name, argv):
    ckpt = f"ckpt={checkpoints[run_name]}"
    assert explain.main([ckpt, *argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("layer") and float(lines[-1].rsplit(" ", 1)[1]) <= 1e-12
    assert draw.main([ckpt, *argv, f"out={tmp_path / 'net.png'}"]) == 0
    png, svg = tmp_path / "net.png", tmp_path / "net.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "<svg" in svg.read_text()[:2000]


def test_wide_layers_are_summarised_and_say_so(tmp_path):
    from nnkit.models import build_model

    net = build_model("mlp", 3, 2, hidden=[40]).double()
    figure = draw.draw_network(net, torch.randn(1, 3, dtype=torch.float64))
    assert "hidden 1 (relu): 16 of 40 units" in figure._suptitle.get_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["input=[1,0.5]"], "give input=[...] and one of ckpt=PATH or example=article"),
        (["example=paper", "input=[1,0.5]"], "example=paper is not known (choose from: article)"),
        (["example=article", "input=[1,2,3]"], "the article's network takes 2 values"),
        (["example=article", "input=[1,nan]"], "is not a number or a list"),
        (["example=article", "input=[1,0.5]", "colour=red"], "unexpected argument 'colour=red'"),
        (["ckpt=/nowhere.ckpt", "input=[1]"], "checkpoint '/nowhere.ckpt' does not exist"),
    ],
)
def test_bad_input_is_one_line(capsys, argv, message):
    for command, name in ((explain, "nnkit.explain"), (draw, "nnkit.draw")):
        assert command.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"{name}: error:") and message in err, err
        assert len(err.strip().splitlines()) == 1
