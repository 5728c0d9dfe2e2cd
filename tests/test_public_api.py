"""The paths plugin authors and readers of the README use keep working, wherever the code
behind them lives: they are the same objects as in their floors."""

from __future__ import annotations

import importlib
import importlib.resources
from pathlib import Path

import pytest
import tomllib

import nnkit

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "gradcheck", "predict", "list", "draw", "explain", "bench")


def test_the_package_face_registers_into_the_registries():
    registries = {
        "register_activation": nnkit.ACTIVATIONS,
        "register_loss": nnkit.LOSSES,
        "register_dataset": nnkit.DATASETS,
        "register_model": nnkit.MODELS,
        "register_optimizer": nnkit.OPTIMIZERS,
        "register_initializer": nnkit.INITIALIZERS,
        "register_scheduler": nnkit.SCHEDULERS,
    }
    for name, registry in registries.items():
        decorator = getattr(nnkit, name)(f"public_{registry.kind}")
        obj = decorator(lambda *args, **kwargs: None)
        assert registry.get(f"public_{registry.kind}") is obj
    assert nnkit.REGISTRIES == (
        nnkit.ACTIVATIONS,
        nnkit.LOSSES,
        nnkit.DATASETS,
        nnkit.MODELS,
        nnkit.OPTIMIZERS,
        nnkit.INITIALIZERS,
        nnkit.SCHEDULERS,
    )


def test_public_paths_are_the_objects_of_their_floors():
    from nnkit.inference import load
    from nnkit.maths import contract, functions, linear
    from nnkit.proof import ops
    from nnkit.training import job
    from nnkit.viz import step

    assert nnkit.Contract is contract.Contract
    assert importlib.import_module("nnkit.functions").Pair is functions.Pair
    public = importlib.import_module("nnkit.functions")
    floors = {**vars(linear), **vars(functions)}  # where each public object is defined
    assert all(getattr(public, name) is floors[name] for name in public.__all__)
    assert importlib.import_module("nnkit.train").run is job.run
    assert importlib.import_module("nnkit.train").train is job.train
    assert importlib.import_module("nnkit.predict").load_model is load.load_model
    draw_network = importlib.import_module("nnkit.draw").draw_network
    figure = draw_network(step.article_network(), step.torch.tensor([[1.0, 0.5]]).double())
    assert len(figure.axes) == 1
    testing = importlib.import_module("nnkit.testing")
    testing.check_activation("sigmoid")
    with pytest.raises(AssertionError, match="gradient contract not met"):
        testing.check_activation(_wrong_relu())
    assert ops.check_activation("relu")[0].passed


def _wrong_relu() -> type:
    import torch

    class WrongReLU(torch.autograd.Function):
        contract = nnkit.Contract("piecewise", kinks=(0.0,))

        @staticmethod
        def forward(x):
            return x.clamp(min=0)

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad):
            return grad  # ignores the kink: wrong for x < 0

        @staticmethod
        def reference(x):
            return torch.relu(x)

    return WrongReLU


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_a_runnable_module_with_a_main(command):
    path = Path(importlib.import_module(f"nnkit.{command}").__file__)
    if path.name == "__init__.py":  # a package: its __main__ module runs
        assert "main()" in (path.parent / "__main__.py").read_text()
        return
    source = path.read_text()
    assert 'if __name__ == "__main__":' in source and "main()" in source


def test_console_scripts_point_at_mains_that_exist():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"nnkit-train", "nnkit-list", "nnkit-gradcheck", "nnkit-predict"}
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_every_subpackage_is_packaged():
    packaged = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    package = Path(nnkit.__file__).parent
    found = {
        ".".join(("nnkit", *init.parent.relative_to(package).parts))
        for init in package.rglob("__init__.py")
    }
    plugins = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "hydra_plugins").rglob("__init__.py")
    }
    assert not (REPO / "hydra_plugins" / "__init__.py").exists()  # a namespace Hydra scans
    assert found | plugins | {"nnkit.conf"} == packaged


def test_the_configs_are_found_through_pkg_nnkit_conf():
    from nnkit.config.compose import CONFIG_MODULE, compose

    assert CONFIG_MODULE == "nnkit.conf"
    conf = importlib.resources.files("nnkit.conf")
    assert conf.joinpath("train.yaml").is_file()
    assert compose(["data=circular"]).data.name == "circular"


def test_every_nnkit_path_the_readme_and_the_docs_name_exists():
    import re

    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    readme = "\n".join(page.read_text() for page in pages)
    paths = set(re.findall(r"`[^`\n]*?\b(nnkit(?:\.[A-Za-z_]+)+)", readme))
    paths -= {
        "nnkit.datasets",
        "nnkit.schedulers",
    }  # entry-point groups (test_plugins), not modules
    assert "nnkit.train.run" in paths and "nnkit.maths.network" in paths
    for path in sorted(paths):
        parts = path.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
            break
