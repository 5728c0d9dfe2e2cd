"""The CUDA path, on a GPU machine (``bash scripts/gpu_check.sh``; not collected without CUDA):
training, replicas, the direct optimizer update and the compiled step on the device, and a
checkpoint trained there read back on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from nnkit.maths.functions import RELU
from nnkit.maths.loss_functions import bce_pair
from nnkit.maths.network import network_loss_grads
from nnkit.training.compiled import CompiledStep
from nnkit.training.direct_update import direct_update

pytestmark = pytest.mark.cuda
CUDA = torch.device("cuda")


def _train(tmp_path, *overrides: str) -> dict:
    command = [sys.executable, "-m", "nnkit.train", "data=circular", "trainer.accelerator=gpu",
               "trainer.max_epochs=3", f"hydra.run.dir={tmp_path}", *overrides]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads((tmp_path / "metrics.json").read_text())


def test_training_on_the_gpu_reaches_the_cpu_s_accuracy(tmp_path):
    gpu = _train(tmp_path / "gpu")
    cpu = _train(tmp_path / "cpu", "trainer.accelerator=cpu")
    assert abs(gpu["val/acc"] - cpu["val/acc"]) < 0.05


@pytest.mark.parametrize("compiled", ["false", "true"])
def test_replicas_train_on_the_gpu(tmp_path, compiled):
    metrics = _train(tmp_path, "trainer.replicas=20", f"trainer.compile={compiled}")
    assert len(metrics["replicas"]) == 20
    assert metrics["val/acc"] > 0.8


def test_native_on_the_gpu_trains_eagerly_with_one_line(tmp_path):
    command = [sys.executable, "-m", "nnkit.train", "data=circular", "trainer.accelerator=gpu",
               "trainer.max_epochs=2", "trainer.compile=native"]  # fmt: skip
    done = subprocess.run(
        [*command, f"hydra.run.dir={tmp_path}"], check=True, capture_output=True, text=True
    )
    lines = [line for line in done.stderr.splitlines() if "runs eagerly" in line]
    assert len(lines) == 1 and "the native program runs on the CPU, not cuda" in lines[0]


def test_a_gpu_checkpoint_predicts_on_the_cpu(tmp_path):
    _train(tmp_path)
    command = [sys.executable, "-m", "nnkit.predict", f"ckpt={tmp_path}/checkpoints/last.ckpt",
               "input=[[0.1,0.2]]"]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=None)
    assert out.stdout.strip()


def test_the_direct_update_equals_step_on_the_gpu():
    params = [torch.nn.Parameter(torch.randn(5, 3, device=CUDA)) for _ in range(2)]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    by_step = torch.optim.Adam(params, lr=0.01, fused=True)
    by_direct = torch.optim.Adam(twins, lr=0.01, fused=True)
    for p, t in zip(params, twins, strict=True):
        p.grad, t.grad = torch.ones_like(p), torch.ones_like(t)
    by_step.step()
    by_direct.step()
    update = direct_update(by_direct)
    assert update is not None
    for _ in range(10):
        grads = [torch.randn(5, 3, device=CUDA) for _ in params]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        by_step.step()
        update(grads)
    for p, t in zip(params, twins, strict=True):
        assert torch.equal(p, t)


def test_the_compiled_step_equals_the_eager_one_on_the_gpu():
    generator = torch.Generator(device=CUDA).manual_seed(0)
    shapes = [(64, 2), (64,), (64, 64), (64,), (1, 64), (1,)]
    params = [torch.randn(s, device=CUDA, generator=generator) for s in shapes]
    x = torch.randn(256, 2, device=CUDA, generator=generator)
    target = (torch.rand(256, 1, device=CUDA, generator=generator) > 0.5).float()
    args = (x, target, (RELU, RELU), params, bce_pair("mean"), None)
    step = CompiledStep(network_loss_grads)
    compiled = step(*args)
    assert step.compiled
    eager = network_loss_grads(*args)
    for got, expected in zip([compiled[0], *compiled[2]], [eager[0], *eager[2]], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
