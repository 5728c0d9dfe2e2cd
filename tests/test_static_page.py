"""The static page's engine computes what nnkit computes: its step explained equals
``nnkit.explain``'s to 1e-12 (the article's example and other networks), its training equals
torch's optimizers on the same data and weights, its schedules torch's schedulers, its data
and initial weights are the datasets' and initializers' own definitions; and the page with
its program stays under 1 MB. Every run is the page's own ``static_run.js`` on the
WebAssembly program, driven by node in one process (``tests/node/static_runs.mjs``)."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch

from nnkit.native.wasm import wasm_path, wasm_unavailable_reason

HERE = Path(__file__).parent
pytestmark = pytest.mark.skipif(
    wasm_unavailable_reason() is not None, reason=str(wasm_unavailable_reason())
)
F64 = torch.float64
PLAYGROUND = {"data": "circular", "data.n": 300, "model.hidden": [3, 2],
              "model.activation": "tanh", "data.batch_size": 10}  # fmt: skip
SCHEDULES = {
    "step": {"scheduler": "step"}, "multistep": {"scheduler": "multistep"},
    "exponential": {"scheduler": "exponential"}, "cosine": {"scheduler": "cosine"},
    "linear_warmup": {"scheduler": "linear_warmup"},
    "warmup_cosine": {"scheduler": "warmup_cosine"},
}  # fmt: skip
CASES: dict[str, dict[str, Any]] = {
    "article": {
        "settings": {
            "data": "circular",
            "model.hidden": [2],
            "model.activation": "relu",
            "loss": "mse",
            "optimizer": "sgd",
            "optimizer.lr": 0.1,
        },
        "article": True,
        "explain": [[1.0, 0.5], [1.0]],
    },
    "binary tanh, features": {
        "settings": {**PLAYGROUND, "model.features": ["x1", "x2", "x1_sq"]},
        "explain": [[0.3, -0.7], [1.0]],
    },
    "digits, cross entropy": {
        "settings": {"data": "seven_segment", "model.hidden": [4]},
        "explain": [[1, 0, 1, 1, 1, 1, 1], [6]],
    },
    "digits, mse": {
        "settings": {
            "data": "seven_segment",
            "model.hidden": [4],
            "loss": "mse",
            "model.activation": "sigmoid",
        },
        "explain": [[1, 1, 1, 1, 1, 1, 0], [0]],
    },
    "normalized, residual": {
        "settings": {
            **PLAYGROUND,
            "model.hidden": [3, 3],
            "model.norm": ["layer", "batch"],
            "model.residual": True,
        },
        "explain": [[0.4, 0.1], [0.0]],
    },
    "bump, regression": {
        "settings": {"data": "bump", "data.noise": 0.0, "model.hidden": [5]},
        "explain": [[0.1, 0.2], [0.5]],
        "data": True,
    },
    "circle, its points": {"settings": {"data": "circular", "data.n": 400}, "data": True},
    "gaussians, 3 classes": {"settings": {"data": "gaussians", "data.classes": 3}, "data": True},
    "spiral, regenerated": {"settings": {"data": "spiral", "data.seed": 1}, "data": True},
    "digits": {"settings": {"data": "seven_segment"}, "data": True},
    "adam, whole batch": {
        "settings": {
            **PLAYGROUND,
            "data.batch_size": 210,
            "optimizer": "adam",
            "optimizer.lr": 0.02,
        },
        "epochs": 4,
        "data": True,
    },
    "sgd, digits": {
        "settings": {
            "data": "seven_segment",
            "model.hidden": [4],
            "data.batch_size": 10,
            "optimizer": "sgd",
            "optimizer.lr": 0.5,
        },
        "epochs": 3,
        "data": True,
    },
    "chunks": {"settings": {**PLAYGROUND, "optimizer": "adam"}, "advance": [7, 7, 7, 7, 7, 7]},
    "epochs": {"settings": {**PLAYGROUND, "optimizer": "adam"}, "epochs": 2},
    "frame, replicas": {
        "settings": {**PLAYGROUND, "trainer.replicas": 4},
        "epochs": 1,
        "frame": True,
    },
    **{
        f"init {name}": {
            "settings": {
                "data": "circular",
                "model.hidden": [40, 30],
                "model.init": name,
                "trainer.replicas": 2,
            }
        }
        for name in ("default", "xavier_uniform", "kaiming_normal", "small_random", "ones")
    },
    **{
        f"schedule {name}": {
            "settings": {**PLAYGROUND, **s, "data.batch_size": 210, "optimizer": "sgd"},
            "epochs": 12,
        }
        for name, s in SCHEDULES.items()
    },
    "export": {
        "settings": {
            **PLAYGROUND,
            "model.norm": "batch",
            "model.features": ["x1", "x2", "x1x2"],
            "trainer.replicas": 3,
        },
        "epochs": 2,
        "export": True,
        "frame": True,
    },
    "bad activation": {"settings": {"model.activation": "sigmiod"}},
    "a file": {"settings": {"data": "csv", "data.path": "points.csv"}},
}


@functools.cache
def results() -> dict[str, dict[str, Any]]:
    """Every case run by the page's engine, in one node process."""
    from nnkit.playground.static_page import catalog

    with tempfile.TemporaryDirectory() as folder:
        catalog_file, cases_file = Path(folder) / "catalog.json", Path(folder) / "cases.json"
        catalog_file.write_text(json.dumps(catalog()))
        cases_file.write_text(json.dumps(list(CASES.values())))
        done = subprocess.run(
            ["node", str(HERE / "node" / "static_runs.mjs"), str(wasm_path()), str(catalog_file),
             str(cases_file)], capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(zip(CASES, json.loads(done.stdout), strict=True))


def _session(settings: dict[str, Any], params: list[list[float]], double: bool = False) -> Any:
    """nnkit's own session of the page's settings, holding the page's weights (its network in
    float64 first, with ``double``)."""
    from nnkit.playground.session import Session
    from nnkit.playground.settings import to_overrides

    session = Session(to_overrides(settings))
    if double:
        session.net.double()
    with torch.no_grad():
        for mine, theirs in zip(session.net.network_params(), params, strict=False):
            mine.copy_(torch.tensor(theirs).reshape(mine.shape))
    return session


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if "explain" in c])
def test_a_step_explained_in_the_browser_is_nnkit_explain_s(name):
    from nnkit.playground.step_panel import explain_step

    case, result = CASES[name], results()[name]
    theirs = explain_step(_session(case["settings"], result["params"]), *case["explain"])
    ours = result["explained"]
    assert math.isclose(ours["cost"], theirs["cost"], rel_tol=1e-12, abs_tol=1e-14)
    assert ours["answer"] == pytest.approx(theirs["answer"], rel=1e-12, abs=1e-14)
    for mine, their in zip(ours["layers"], theirs["layers"], strict=True):
        assert mine["name"] == their["name"]
        for a, b in zip(mine["units"], their["units"], strict=True):
            assert set(a) == set(b) - {"mask"}  # the browser's explained step drops no unit
            for key in set(a) - {"weight_corrections"}:
                assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-14), (key, a, b)
            assert a["weight_corrections"] == pytest.approx(b["weight_corrections"], abs=1e-14)
        assert ("norm" in mine) == ("norm" in their)
        if "norm" in their:
            assert mine["norm"]["kind"] == their["norm"]["kind"]
            for key in ("mean", "var"):
                assert mine["norm"][key] == pytest.approx(their["norm"][key], rel=1e-12, abs=1e-14)
    if name == "article":
        layers = ours["layers"]
        assert [round(u["weighted"], 4) for u in layers[0]["units"]] == [3.25, -0.3]
        assert round(layers[1]["units"][0]["weighted"], 4) == 6.5
        assert round(ours["answer"][0], 4) == 0.9985


LOSS = {"bce": torch.nn.functional.binary_cross_entropy_with_logits,
        "cross_entropy": torch.nn.functional.cross_entropy}  # fmt: skip
HIDDEN = {"tanh": torch.tanh, "relu": torch.relu}


@pytest.mark.parametrize("name", ["adam, whole batch", "sgd, digits"])
def test_the_browser_trains_as_torch_s_optimizer_on_the_same_data_and_weights(name):
    """Whole-batch epochs (no order of minibatches to share): the page's weights after them
    are torch autograd's and torch's optimizer's from the same start and data, to 1e-12."""
    case, result = CASES[name], results()[name]
    settings, train = case["settings"], result["data"]["train"]
    params = [torch.tensor(p, dtype=F64, requires_grad=True) for p in result["initial"]]
    x = torch.tensor(train["x"], dtype=F64).reshape(len(train["y"]), -1)
    y = torch.tensor(train["y"], dtype=F64)
    digits = x.shape[1] == 7
    target = y.long() if digits else y.unsqueeze(1)
    kind = torch.optim.Adam if settings["optimizer"] == "adam" else torch.optim.SGD
    optimizer = kind(params, lr=settings["optimizer.lr"])
    activation = HIDDEN[settings.get("model.activation", "relu")]
    layers = len(params) // 2
    for _ in range(case["epochs"]):
        optimizer.zero_grad()
        value = x
        for layer in range(layers):
            out = params[2 * layer + 1].shape[0]
            value = value @ params[2 * layer].reshape(out, -1).T + params[2 * layer + 1]
            value = activation(value) if layer + 1 < layers else value
        LOSS["cross_entropy" if digits else "bce"](value, target).backward()
        optimizer.step()
    for mine, theirs in zip(result["params"], params, strict=True):
        assert mine == pytest.approx(theirs.detach().tolist(), rel=1e-12, abs=1e-14)


def _points(result: dict[str, Any], part: str) -> tuple[torch.Tensor, torch.Tensor]:
    split = result["data"][part]
    y = torch.tensor(split["y"], dtype=F64)
    return torch.tensor(split["x"], dtype=F64).reshape(len(y), -1), y


def test_the_browser_s_datasets_are_nnkit_s_definitions():
    """Labels as the datasets define them, the splits' sizes, the digits' segments; a new
    data seed, new points."""
    from nnkit.data.seven_segment import digit_segments

    found = results()
    parts = [_points(found["circle, its points"], p) for p in ("train", "val", "test")]
    assert [len(y) for _, y in parts] == [280, 60, 60]
    for x, y in parts:
        assert torch.equal(y, (x.norm(dim=1) < 0.6).double()) and x.abs().max() <= 1
    x, y = _points(found["bump, regression"], "train")
    assert torch.allclose(y, torch.exp(-(x * x).sum(dim=1) / (2 * 0.4**2)), rtol=0, atol=1e-15)
    x, y = _points(found["gaussians, 3 classes"], "train")
    assert set(y.tolist()) == {0.0, 1.0, 2.0}
    centres = torch.stack([x[y == k].mean(dim=0) for k in range(3)])
    angles = [2 * math.pi * k / 3 + math.pi / 4 for k in range(3)]
    expected = 0.6 * torch.tensor([[math.cos(a), math.sin(a)] for a in angles], dtype=F64)
    assert torch.allclose(centres, expected, atol=0.05)
    x, y = _points(found["spiral, regenerated"], "train")
    assert x.norm(dim=1).min() >= 0.05 and set(y.tolist()) == {0.0, 1.0}
    assert not torch.equal(x, _points(found["circle, its points"], "train")[0][: len(x)])
    for part in ("train", "test"):
        x, y = _points(found["digits"], part)
        assert torch.equal(x, digit_segments().double()) and y.tolist() == list(range(10))


def test_the_browser_s_initial_weights_are_the_initializers_definitions():
    found = results()
    for name in ("default", "xavier_uniform", "kaiming_normal", "small_random", "ones"):
        w1, b1, w2 = (torch.tensor(t, dtype=F64) for t in found[f"init {name}"]["initial"][:3])
        first, second = w1.reshape(2, 40, 2), w2.reshape(2, 30, 40)  # two replicas each
        assert not torch.equal(first[0], first[1]) or name == "ones"
        if name == "default":  # nn.Linear's: uniform in ±1/√fan_in, biases too
            assert second.abs().max() <= 40**-0.5 and second.abs().max() > 0.9 * 40**-0.5
            assert b1.abs().max() <= 2**-0.5 and b1.abs().min() > 0
        elif name == "xavier_uniform":
            bound = math.sqrt(6 / 70)
            assert second.abs().max() <= bound and second.abs().max() > 0.9 * bound
            assert not b1.any()
        elif name == "kaiming_normal":  # std √2/√fan_in
            assert second.std().item() == pytest.approx(math.sqrt(2 / 40), rel=0.05)
        elif name == "small_random":
            assert second.abs().max() <= 0.5 and torch.equal(b1, torch.full_like(b1, 0.1))
        else:
            assert torch.equal(w1, torch.ones_like(w1)) and torch.equal(b1, torch.ones_like(b1))


def test_minibatches_taken_in_chunks_train_as_whole_epochs():
    """The worker trains between two frames as many steps as fit: 7 at a time over two epochs
    (21 steps each) give the weights two whole epochs give, bit for bit."""
    chunks, epochs = results()["chunks"], results()["epochs"]
    assert (chunks["epoch"], chunks["steps"]) == (epochs["epoch"], epochs["steps"]) == (2, 42)
    assert chunks["params"] == epochs["params"] and chunks["params"] != chunks["initial"]


def test_a_frame_ranks_its_replicas_and_pictures_its_units():
    frame = results()["frame, replicas"]["frame"]
    summary = frame["replicas"]
    assert summary["count"] == 4 and len(summary["accuracy"]) == 4
    best, worst = summary["best"], summary["worst"]
    assert summary["accuracy"][best] == max(summary["accuracy"])
    assert summary["accuracy"][worst] == min(summary["accuracy"])
    assert frame["mapped"] == [1, 2, 3] and frame["grid"] == 40
    maps = torch.tensor(frame["maps"]).reshape(6, 40 * 40)  # 3 + 2 hidden units, the output
    assert maps[:5].abs().max() <= 1 and maps[5].min() >= 0 and maps[5].max() <= 1  # tanh; p
    assert frame["shapes"] == [[3, 2], [2, 3], [1, 2]] and len(frame["weights"]) == 14


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_the_browser_s_learning_rate_schedules_are_torch_s(name):
    """The rate each whole-batch epoch trained with, against torch's scheduler of the same
    config over the run's 100 epochs."""
    from nnkit.optimizers.schedulers import build_scheduler
    from nnkit.playground.static_page import catalog

    options = {k: v for k, v in catalog()["schedules"][name].items()
               if k not in ("name", "interval", "total")}  # fmt: skip
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = build_scheduler(name, optimizer, 100, **options)
    expected = []
    for _ in range(CASES[f"schedule {name}"]["epochs"]):
        optimizer.step()
        scheduler.step()
        expected.append(optimizer.param_groups[0]["lr"])
    assert results()[f"schedule {name}"]["rates"] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_the_browser_refuses_in_one_line_what_it_cannot_do():
    assert results()["bad activation"]["error"] == (
        "unknown activation 'sigmiod' — did you mean 'sigmoid'? (available: "
        + ", ".join(sorted(__import__("nnkit").ACTIVATIONS.names()))
        + "); a plugin's needs Python: python -m nnkit.playground plugins=[MODULE]"
    )
    refused = results()["a file"]["error"]
    assert "needs Python" in refused and "python -m nnkit.playground data=csv data.path=" in refused


def test_the_static_page_and_its_program_weigh_under_one_megabyte(tmp_path):
    from nnkit.playground.static_page import write_page

    written = write_page(tmp_path)
    assert {p.name for p in written} >= {"index.html", "program.wasm", "engine.js", "app.js"}
    total = sum(p.stat().st_size for p in written)
    assert total < 2**20, f"{total} bytes"


def test_a_page_s_export_opens_in_predict_the_playground_and_explain(tmp_path):
    """The weights file of the page's best replica: ``nnkit.predict`` answers with its
    network (the CLI, in a process of its own), the playground starts at its weights, and
    the export says that the browser's data and start are not the command line's."""
    import subprocess
    import sys

    from nnkit.inference.load import load_model
    from nnkit.playground.__main__ import start
    from nnkit.playground.session import Session

    result = results()["export"]
    exported, best = result["exported"], result["frame"]["replicas"]["best"]
    assert "does not replay this run bit for bit" in exported["note"]
    assert exported["command"].startswith("python -m nnkit.train data=circular")
    assert f"seed={best}" in exported["command"] and "replicas" not in exported["command"]
    path = tmp_path / "nnkit-page-epoch2.json"
    path.write_text(exported["file"])
    net, sizes = load_model(path)
    sizes_per = [len(t) // 3 for t in result["params"]]
    for mine, theirs, size in zip(net.native_params(), result["params"], sizes_per, strict=True):
        assert mine.reshape(-1).tolist() == pytest.approx(theirs[best * size : (best + 1) * size])
    point = torch.tensor([[0.25, -0.5]])
    answered = subprocess.run(
        [sys.executable, "-m", "nnkit.predict", f"ckpt={path}", "input=[0.25,-0.5]"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr
    with torch.no_grad():
        output = float(net(point)[0, 0])
    assert f"outputs: {output:.4f}" in answered.stdout, answered.stdout
    base, checkpoint = start({"ckpt": str(path)}, [])
    session = Session(base)
    session.restore(checkpoint)
    assert session.epoch == 2 and sizes["in_features"] == 2
    for mine, theirs in zip(session.net.native_params(), net.native_params(), strict=True):
        assert torch.equal(mine, theirs)
