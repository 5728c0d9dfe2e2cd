"""The shape of the package: imports point downward only, and a run builds everything once."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import nnkit

PACKAGE = Path(nnkit.__file__).parent


FLOORS = (  # from the ground up: a module imports only from its own floor and those below
    ("nnkit.registry", "nnkit.errors", "nnkit.rng"),
    ("nnkit.maths", "nnkit.native"),
    ("nnkit.runs", "nnkit.search"),
    ("nnkit.plugins",),
    (
        "nnkit.activations",
        "nnkit.losses",
        "nnkit.models",
        "nnkit.optimizers",
        "nnkit.initializers",
        "nnkit.replicas",
    ),
    ("nnkit.data", "nnkit.catalog"),
    ("nnkit.proof",),
    ("nnkit.config",),
    ("nnkit.viz",),
    ("nnkit.training", "nnkit.inference"),
    (
        "nnkit",
        "nnkit.commands",
        "nnkit.bench",
        "nnkit.functions",
        "nnkit.testing",
        "nnkit.playground",
    ),
    ("nnkit.train", "nnkit.gradcheck", "nnkit.predict", "nnkit.list", "nnkit.draw", "nnkit.script"),
    ("nnkit.explain",),
)
COMMANDS = ("train", "gradcheck", "predict", "list", "draw", "explain", "script")


def modules() -> dict[str, Path]:
    return {
        ".".join(("nnkit", *f.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
            ".__init__"
        ): f
        for f in PACKAGE.rglob("*.py")
    }


def imports(path: Path, main_blocks: bool = True) -> set[str]:
    """Every module ``path`` imports (module level and inside functions; its
    ``if __name__ == "__main__"`` block too unless ``main_blocks`` is false)."""
    tree = ast.parse(path.read_text())
    body = [n for n in tree.body if main_blocks or not _is_main_block(n)]
    targets: set[str] = set()
    for node in (sub for top in body for sub in ast.walk(top)):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return targets


def import_graph(main_blocks: bool = True) -> dict[str, set[str]]:
    """module -> the nnkit modules it imports, read from the sources."""
    found = modules()
    return {
        name: {t for t in imports(path, main_blocks) if t in found and t != name}
        for name, path in found.items()
    }


def _is_main_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


def floor_of(module: str) -> int:
    """The floor of ``module``: that of the longest floor name it is or lies under."""
    candidates = [
        (len(name), level)
        for level, names in enumerate(FLOORS)
        for name in names
        if module == name or module.startswith(name + ".")
    ]
    assert candidates, f"{module} lies on no floor"
    return max(candidates)[1]


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of imports, or [] if there is none."""
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> list[str]:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if not state.get(target):
                found = visit(target, [*path, target])
                if found:
                    return found
        state[module] = 2
        return []

    for module in sorted(graph):
        if not state.get(module):
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return []


def test_import_graph_has_no_circle_main_blocks_included():
    assert find_cycle(import_graph(main_blocks=True)) == []


def test_nothing_imports_the_cli_but_a_commands_main_block():
    graph = import_graph(main_blocks=False)
    users = [m for m, targets in graph.items() if "nnkit.commands.train" in targets]
    assert users == []


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    graph["nnkit.registry"] = {*graph["nnkit.registry"], "nnkit.train"}
    cycle = find_cycle(graph)
    assert cycle[0] == cycle[-1] and "nnkit.train" in cycle


def test_every_import_points_down_a_floor_or_stays_on_its_own():
    upward = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if floor_of(target) > floor_of(module)
    ]
    assert upward == []


def test_the_floor_check_sees_an_import_that_climbs():
    assert floor_of("nnkit.training.job") > floor_of("nnkit.maths.network")
    prepare, commands = floor_of("nnkit.config.prepare"), floor_of("nnkit.commands.train")
    assert floor_of("nnkit.maths") < prepare < commands


def test_the_top_of_the_package_holds_its_face_registries_and_commands():
    top = sorted(f.stem for f in PACKAGE.glob("*.py"))
    assert len(top) <= 20, top
    assert set(COMMANDS) <= set(top)
    for command in COMMANDS:  # thin: what they do lives in the floors below
        assert len((PACKAGE / f"{command}.py").read_text().splitlines()) <= 120, command


def test_the_mathematics_imports_torch_only():
    allowed = {"torch", "nnkit", "__future__", *sys.stdlib_module_names}
    for name, path in modules().items():
        if name.startswith("nnkit.maths"):
            outside = {t.split(".")[0] for t in imports(path)} - allowed
            assert not outside, (name, outside)


def test_lower_floors_know_nothing_of_hydra_or_lightning():
    graph, found = import_graph(), modules()
    frameworks = {"hydra", "omegaconf", "pytorch_lightning", "lightning", "lightning_fabric"}
    lows = ("nnkit.maths.network", "nnkit.catalog", "nnkit.proof.ops", "nnkit.data.task")
    for low in (*lows, "nnkit.training.engine"):
        reach, todo = {low}, [low]
        while todo:
            for target in graph[todo.pop()] - reach:
                reach.add(target)
                todo.append(target)
        used = {t.split(".")[0] for module in reach for t in imports(found[module])}
        assert not used & frameworks, (low, used & frameworks)


def test_the_playground_session_trains_through_the_engine_alone():
    """The session holds no step of its own: no step machinery imported, no backward, no
    optimizer built or stepped — what it trains, it trains by ``nnkit.training.engine``."""
    session = PACKAGE / "playground" / "session.py"
    machinery = {
        "nnkit.maths.network", "nnkit.maths.regularization.penalty", "nnkit.optimizers",
        "nnkit.training.native_steps", "nnkit.training.direct_update", "nnkit.training.compiled",
    }  # fmt: skip
    assert not imports(session) & machinery, imports(session) & machinery
    text = session.read_text()
    for step in (".backward(", ".step()", "build_optimizer", "WeightUpdates", "network_loss_grads"):
        assert step not in text, step


def _strings(path: Path) -> set[str]:
    """The string literals of a source file: a Python file's outside its docstrings."""
    text = path.read_text()
    if path.suffix != ".py":
        return set(re.findall(r'"([^"\n]*)"', text))
    tree = ast.parse(text)
    documented = [n for n in ast.walk(tree) if isinstance(n, DOCUMENTED)]
    docstrings = {id(n.body[0].value) for n in documented if ast.get_docstring(n) is not None}
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    }


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def test_a_built_in_activation_is_named_in_two_source_files_at_most():
    """Its declaration (its mathematics in ``nnkit.maths``) and its native case; the registry,
    the native program's list and the proof read the declaration. The article's four are also
    used by name as defaults and examples elsewhere, so for them only the copies are checked:
    the registry, the native program's face and the package's face hold none."""
    from nnkit.maths.declaration import DECLARED

    files = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.cpp")]
    strings = {str(f.relative_to(PACKAGE)): _strings(f) for f in files}
    article = {"step", "sigmoid", "relu", "identity", "linear"}
    for name in DECLARED:
        naming = sorted(f for f, found in strings.items() if name in found)
        if name in article:
            faces = {"activations.py", "__init__.py", "native/program.py"}
            if name == "step":  # Adam's step count is kept under "step" in its state
                faces.remove("native/program.py")
            assert not faces & set(naming), (name, naming)
        else:
            assert len(naming) <= 2 and naming[0].startswith("maths/"), (name, naming)


def test_the_command_line_prepares_a_run_exactly_once(tmp_path, monkeypatch):
    from nnkit.commands.train import main
    from nnkit.config import build, prepare

    calls = {"validate": 0, "data": 0, "net": 0}
    for module, name, key in (
        (prepare, "validate", "validate"),
        (prepare, "build_data", "data"),
        (build, "build_net", "net"),
    ):
        original = getattr(module, name)

        def counted(*args, _original=original, _key=key, **kwargs):
            calls[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    argv = ["trainer.max_epochs=1", "trainer.progress_bar=none", "logger=none"]
    monkeypatch.setattr(sys, "argv", ["nnkit.train", *argv, f"hydra.run.dir={tmp_path}"])
    main()
    assert calls == {"validate": 1, "data": 1, "net": 1}
    assert (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("seed", [0, 3])
def test_a_handed_over_network_is_the_one_a_fresh_build_makes(tmp_path, seed):
    from nnkit.config.compose import compose
    from nnkit.config.prepare import prepare
    from nnkit.training.preflight import without_hydra

    cfg = without_hydra(compose([f"seed={seed}"]))
    first, second = prepare(cfg, tmp_path), prepare(cfg, tmp_path)
    for p, q in zip(first.net.parameters(), second.net.parameters(), strict=True):
        assert p.equal(q)
