"""Proof before training: a run's plugin ops are proved as nnkit.gradcheck proves them, before
the first step; a wrong derivative refuses the run, an undeclared one runs as unproved."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

from nnkit.errors import ConfigError
from nnkit.proof.before_run import prove_ops, run_ops
from nnkit.train import run
from tests.helpers import cli

QUICK = ["data=circular", "data.n=200", "trainer.max_epochs=1", "trainer.progress_bar=none"]

WRONG_SQUARE = Path(__file__).parent / "plugins" / "wrong_square.py"  # x², backward 3x


WRONG_LOSS = """
import torch
import nnkit
from nnkit.maths.contract import Contract


@nnkit.register_loss("half_mse")
class HalfMSE(torch.nn.Module):
    contract = Contract("smooth")
    variants = ({},)

    def forward(self, output, target):
        return HalfSquare.apply(output, target)

    def reference(self, output, target):
        return ((output - target) ** 2).mean() / 2


class HalfSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, output, target):
        ctx.save_for_backward(output, target)
        return ((output - target) ** 2).mean() / 2

    @staticmethod
    def backward(ctx, grad):
        output, target = ctx.saved_tensors
        return grad * 2 * (output - target) / output.numel(), None
"""


def plugin(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def square(folder: Path, name: str, factor: int, pair: str = "None") -> Path:
    """``x²`` with a backward of ``factor·x·grad`` (2 is right), and a pair if given: the
    shipped wrong plugin, renamed and mended as asked."""
    source = WRONG_SQUARE.read_text().replace('"wrong_square"', f'"{name}"')
    source = source.replace("3 * x * grad", f"{factor} * x * grad")
    source = source.replace("    contract = ", f"    pair = {pair}\n    contract = ")
    return plugin(folder, name, "from nnkit.functions import Pair\n" + source)


def test_a_wrong_derivative_refuses_the_run_before_any_folder(tmp_path):
    path = square(tmp_path, "bad_square", factor=3)
    run_dir = tmp_path / "run"
    result = cli(
        "nnkit.train", *QUICK, f"plugins=[{path}]", "model.activation=bad_square",
        f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "activation 'bad_square' (module bad_square) fails its gradient proof" in line
    assert "relative error 5.0e-01 > 1e-12" in line
    assert f"python -m nnkit.gradcheck 'bad_square' --plugin {path}" in line
    assert not run_dir.exists()


def test_a_wrong_pair_is_caught_by_the_whole_network_row(tmp_path):
    """The Function's own backward is right; the pair that whole-network backprop would use
    is not: the run would train on it silently, so the network row must refuse it."""
    pair = "Pair(lambda x: x * x, lambda x, y, g: 3 * x * g, needs_input=True)"
    path = square(tmp_path, "pair_square", factor=2, pair=pair)
    with pytest.raises(ConfigError, match=r"network mlp\[pair_square\].*relative error"):
        run([*QUICK, f"plugins=[{path}]", "model.activation=pair_square",
             f"hydra.run.dir={tmp_path / 'run'}"])  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_a_wrong_loss_refuses_the_run(tmp_path):
    path = plugin(tmp_path, "half_mse", WRONG_LOSS)
    with pytest.raises(ConfigError, match=r"loss 'half_mse' .* fails its gradient proof"):
        run([*QUICK, f"plugins=[{path}]", "data=linear", "loss=half_mse",
             f"hydra.run.dir={tmp_path / 'run'}"])  # fmt: skip


def test_prove_false_trains_anyway_and_says_so(tmp_path):
    path = square(tmp_path, "bad_square2", factor=3)
    run_dir = tmp_path / "run"
    metrics = run([*QUICK, f"plugins=[{path}]", "model.activation=bad_square2",
                   "plugin_loading.prove=false", f"hydra.run.dir={run_dir}"])  # fmt: skip
    assert metrics["proof"]["skipped"] is True and metrics["proof"]["checked"] == []


def test_a_proved_plugin_is_recorded_in_metrics_checkpoint_and_summary(tmp_path, capsys):
    pair = "Pair(lambda x: x * x, lambda x, y, g: 2 * x * g, needs_input=True)"
    path = square(tmp_path, "good_square", factor=2, pair=pair)
    run_dir = tmp_path / "run"
    run([*QUICK, f"plugins=[{path}]", "model.activation=good_square", "model.hidden=[4]",
         "optimizer.lr=0.001", f"hydra.run.dir={run_dir}"])  # fmt: skip
    assert "proof: activation good_square proved before training in" in capsys.readouterr().out
    proof = json.loads((run_dir / "metrics.json").read_text())["proof"]
    assert [row["row"] for row in proof["checked"]] == ["good_square", "mlp[good_square]"]
    assert all(row["max_rel_error"] <= 1e-12 for row in proof["checked"])
    assert proof["built_in"] == ["loss bce[reduction=mean]"] and not proof["unproved"]
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["hyper_parameters"]["proof"] == proof


def test_an_undeclared_op_runs_with_one_warning(tmp_path, capsys):
    path = plugin(
        tmp_path,
        "plain_act",
        """
        import torch
        import nnkit

        @nnkit.register_activation("softsign_plain")
        def softsign_plain(x):
            return x / (1 + x.abs())
        """,
    )
    run_dir = tmp_path / "run"
    run(
        [*QUICK, f"plugins=[{path}]", "model.activation=softsign_plain", f"hydra.run.dir={run_dir}"]
    )
    result = capsys.readouterr()
    warnings = [line for line in result.err.splitlines() if "unproved" in line]
    assert warnings == [
        "nnkit.train: warning: activation softsign_plain declares no gradient contract and "
        "torch reference: unproved, its backward is trusted as written"
    ]
    proof = json.loads((run_dir / "metrics.json").read_text())["proof"]
    assert proof["unproved"] == ["activation softsign_plain"]
    assert "UNPROVED: activation softsign_plain" in result.out


def test_built_ins_in_their_declared_variants_are_not_proved_again():
    ops = run_ops({"activation": ["step", "step"], "activation_args": {"ste": "clipped"}},
                  "mse", {"reduction": "sum"})  # fmt: skip
    proof = prove_ops(ops)
    assert proof.checked == [] and not proof.unproved
    assert proof.built_in == ["activation step[ste=clipped]", "loss mse[reduction=sum]"]


def test_gradcheck_proves_a_plugin_file(tmp_path, capsys):
    from nnkit import gradcheck

    bad, good = square(tmp_path, "sq_bad", 3), square(tmp_path, "sq_good", 2)
    assert gradcheck.main(["sq_*", "--plugin", str(bad), "--plugin", str(good)]) == 1
    out = capsys.readouterr().out
    assert "sq_bad" in out and "FAIL (relative error 5.0e-01" in out and "1 passed, 1 failed" in out
    assert gradcheck.main(["sq_good", "--plugin", str(good)]) == 0
    assert "1 passed, 0 failed, 0 unproved" in capsys.readouterr().out
    assert gradcheck.main(["--plugin", str(tmp_path / "nope.py")]) == 2
    assert "does not exist" in capsys.readouterr().err


SLEEPY = """
import time
import torch
import nnkit


@nnkit.register_activation("sleepy")
class Sleepy(torch.autograd.Function):
    contract = nnkit.Contract("smooth")

    @staticmethod
    def forward(x):
        time.sleep(60)  # a forward that never returns in time
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return grad

    @staticmethod
    def reference(x):
        return x
"""


def test_a_proof_that_hangs_is_one_line_naming_the_op(tmp_path):
    path = plugin(tmp_path, "sleepy", SLEEPY)
    run_dir = tmp_path / "run"
    result = cli(
        "nnkit.train", *QUICK, f"plugins=[{path}]", "model.activation=sleepy",
        "plugin_loading.proof_timeout_s=1", f"hydra.run.dir={run_dir}", timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert (
        "the gradient proof of activation sleepy (module sleepy) did not finish within 1 s" in line
    )
    assert not run_dir.exists()


def test_the_time_limit_cannot_be_swallowed_by_the_code_it_bounds():
    import time

    from nnkit.errors import PluginError
    from nnkit.plugins import time_limit

    started = time.monotonic()
    with pytest.raises(PluginError, match="too slow"), time_limit(0.2, "too slow"):
        try:
            time.sleep(5)
        except Exception:  # what the proof's own checks do with a failing op
            time.sleep(5)
    assert time.monotonic() - started < 2
