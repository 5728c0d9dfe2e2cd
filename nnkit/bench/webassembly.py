"""nnkit's native program compiled to WebAssembly, as a contender of ``nnkit.bench.tiny``: the
same problem, weights and minibatches as the ``nnkit native`` row, trained in node by the
module with its state resident in the module's memory (``webassembly.mjs``), as a page's
engine would train it; float64, as JavaScript's numbers.

>>> WEBASSEMBLY_JS.exists()
True
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from nnkit.maths.loss_functions import mse_pair
from nnkit.maths.more_functions import TANH
from nnkit.native.plan import plan_program
from nnkit.native.wasm import spec_values, wasm_path, wasm_unavailable_reason

WEBASSEMBLY_JS = Path(__file__).with_name("webassembly.mjs")


def wasm_rate(
    params: list[Tensor], x: Tensor, t: Tensor, batch: int, grid_size: int, seconds: float
) -> float | None:
    """The module's epochs per second (SGD 0.03, squared error, tanh hidden layers), or None
    where it cannot be built or run here."""
    if wasm_unavailable_reason() is not None:
        return None
    widths = [params[0].shape[1], *(w.shape[0] for w in params[0::2])]
    program = plan_program((TANH,) * (len(widths) - 2), mse_pair("mean"), None, widths, 1,
                           torch.float64)  # fmt: skip
    assert not isinstance(program, str), program
    spec = program.spec()
    spec.lr, spec.steps, spec.rows = 0.03, -(-len(x) // batch), len(x)
    call = {
        "spec": spec_values(spec), "params": [p.double().reshape(-1).tolist() for p in params],
        "x": x.double().reshape(-1).tolist(), "dense": t.double().reshape(-1).tolist(),
        "offsets": [*range(0, len(x), batch), len(x)], "outputs": t.numel(), "grid": grid_size,
    }  # fmt: skip
    first = _run({**call, "epochs": 50})
    return _run({**call, "epochs": max(20, int(first * seconds))})


def _run(call: dict) -> float:
    with tempfile.TemporaryDirectory() as folder:
        problem = Path(folder) / "problem.json"
        problem.write_text(json.dumps(call))
        done = subprocess.run(["node", str(WEBASSEMBLY_JS), str(wasm_path()), str(problem)],
                              capture_output=True, text=True, check=True)  # fmt: skip
    return float(json.loads(done.stdout)["epochs_per_s"])
