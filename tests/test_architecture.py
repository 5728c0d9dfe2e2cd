"""The shape of the package: imports point downward only, and a run builds everything once."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import nnkit

PACKAGE = Path(nnkit.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """module -> the nnkit modules it imports (module level and inside functions), read from
    the sources; a module's ``if __name__ == "__main__"`` block is left out."""
    modules = {
        ".".join(("nnkit", *f.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
            ".__init__"
        ): f
        for f in PACKAGE.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        body = [n for n in tree.body if not _is_main_block(n)]
        targets: set[str] = set()
        for node in (sub for top in body for sub in ast.walk(top)):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _is_main_block(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)


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


def test_import_graph_has_no_circle_and_nothing_imports_the_cli():
    graph = import_graph()
    assert find_cycle(graph) == []
    users = [m for m, targets in graph.items() if "nnkit.cli" in targets and m != "nnkit.__main__"]
    assert users == []


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    graph["nnkit.registry"] = {*graph["nnkit.registry"], "nnkit.train"}
    cycle = find_cycle(graph)
    assert cycle[0] == cycle[-1] and "nnkit.train" in cycle


def test_lower_floors_know_nothing_of_hydra_or_lightning():
    graph = import_graph()
    for low in ("nnkit.functions", "nnkit.registry", "nnkit.errors", "nnkit.task"):
        reach, todo = set(), [low]
        while todo:
            for target in graph[todo.pop()] - reach:
                reach.add(target)
                todo.append(target)
        assert not reach & {"nnkit.train", "nnkit.trainer", "nnkit.module", "nnkit.compose"}, low


def test_the_command_line_prepares_a_run_exactly_once(tmp_path, monkeypatch):
    from nnkit import build
    from nnkit.cli import main

    calls = {"validate": 0, "data": 0, "net": 0}
    for name, key in (("validate", "validate"), ("build_data", "data"), ("build_net", "net")):
        original = getattr(build, name)

        def counted(*args, _original=original, _key=key, **kwargs):
            calls[_key] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(build, name, counted)
    argv = ["trainer.max_epochs=1", "trainer.progress_bar=none", "logger=none"]
    monkeypatch.setattr(sys, "argv", ["nnkit.train", *argv, f"hydra.run.dir={tmp_path}"])
    main()
    assert calls == {"validate": 1, "data": 1, "net": 1}
    assert (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("seed", [0, 3])
def test_a_handed_over_network_is_the_one_a_fresh_build_makes(tmp_path, seed):
    from nnkit.build import prepare
    from nnkit.cli import without_hydra
    from nnkit.compose import compose

    cfg = without_hydra(compose([f"seed={seed}"]))
    first, second = prepare(cfg, tmp_path), prepare(cfg, tmp_path)
    for p, q in zip(first.net.parameters(), second.net.parameters(), strict=True):
        assert p.equal(q)
