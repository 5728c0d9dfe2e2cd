"""The native program compiled to WebAssembly: the same ``program.cpp``, with what a page needs
besides its steps (``page.cpp``: datasets, features, initial weights, one step explained),
built by clang for ``wasm32-wasi`` (Debian's ``clang``, ``lld``, ``wasi-libc`` and
``libc++-dev-wasm32``), cached like the native library, and run by ``program.mjs`` — in a page
(``nnkit.playground.static_page``), or in node for the proof that it computes what the native
library computes (``run_calls``).

>>> wasm_unavailable_reason() is None or "clang" in wasm_unavailable_reason()
True
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from nnkit.native.build import SOURCE, NativeUnavailable, build, cache_dir
from nnkit.native.program import Spec

RUNNER = Path(__file__).with_name("wasm_calls.mjs")
PAGE_SOURCE = Path(__file__).with_name("page.cpp")  # program.cpp and what a page needs more
EXPORTS = ("nnkit_abi_version", "nnkit_spec_fields", "nnkit_spec_layout", "nnkit_train_f64",
           "nnkit_maps_f64", "nnkit_activation_names", "nnkit_loss_names", "nnkit_plane_names",
           "nnkit_feature_names", "nnkit_init_names", "nnkit_schedule_names", "nnkit_plane",
           "nnkit_digits", "nnkit_permutation", "nnkit_shuffle_rows", "nnkit_features",
           "nnkit_initialize", "nnkit_dropout_masks", "nnkit_evaluate_f64", "nnkit_rate",
           "nnkit_explain_f64", "malloc", "free")  # fmt: skip
FLAGS = (
    "--target=wasm32-wasi", "--sysroot=/usr", "-O3", "-fno-math-errno", "-ffp-contract=off",
    "-fno-exceptions", "-mbulk-memory", "-mnontrapping-fptoint", "-msign-ext",
    "-std=c++17", "-mexec-model=reactor", *(f"-Wl,--export={name}" for name in EXPORTS),
)  # fmt: skip


def clang() -> str:
    """The compiler that targets WebAssembly: ``$NNKIT_WASM_CXX``, else ``clang++``."""
    chosen = os.environ.get("NNKIT_WASM_CXX") or shutil.which("clang++")
    if not chosen:
        raise NativeUnavailable("no clang++ for WebAssembly (Debian: clang lld wasi-libc "
                                "libc++-dev-wasm32 libclang-rt-dev-wasm32)")  # fmt: skip
    return chosen


def wasm_path() -> Path:
    """The WebAssembly program, built first where this source and compiler have none yet."""
    cxx = clang()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    sources = [SOURCE.read_text(), PAGE_SOURCE.read_text()]
    key = hashlib.sha256("\n".join([*sources, version, *FLAGS]).encode()).hexdigest()
    target = cache_dir() / f"program-{key[:16]}.wasm"
    if not target.exists():
        build(cxx, target, FLAGS, PAGE_SOURCE)
    return target


@functools.cache
def wasm_unavailable_reason() -> str | None:
    """Why the WebAssembly program cannot be built and run here, or None."""
    if shutil.which("node") is None:
        return "no node to run the WebAssembly program"
    try:
        wasm_path()
    except NativeUnavailable as error:
        return str(error)
    return None


def run_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each call (a training call or a map, as ``program.mjs`` takes them) run by the
    WebAssembly program in node, in one process; their results."""
    with tempfile.TemporaryDirectory() as folder:
        written = Path(folder) / "calls.json"
        written.write_text(json.dumps(calls))
        done = subprocess.run(["node", str(RUNNER), str(wasm_path()), str(written)],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the WebAssembly program failed: {done.stderr.strip()[-2000:]}")
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def spec_values(spec: Spec) -> dict[str, Any]:
    """A ``Spec``'s values (not its pointers), by field name: what ``program.mjs`` writes
    into the module's own struct."""
    values = {}
    for field in Spec._fields_:
        name, kind = field[0], field[1]
        if name not in ("lrs", "masks"):
            value = getattr(spec, name)
            values[name] = list(value) if hasattr(kind, "_length_") else value
    return values
