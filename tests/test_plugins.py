"""Plugins through real installed distributions, config modules and in-code registration."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import nnkit
from nnkit import plugins, testing
from tests.helpers import FAST, cli, pip_install

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "experiments" / "plugins" / "nnkit-swish"


def make_distribution(root: Path, name: str, module_source: str, entry_points: str) -> Path:
    """A real installable project, written on the fly."""
    project = root / name
    package = name.replace("-", "_")
    (project / package).mkdir(parents=True)
    (project / package / "__init__.py").write_text(textwrap.dedent(module_source))
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "0.1"
        [tool.setuptools]
        packages = ["{package}"]
        """)
        + entry_points
    )
    return project


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder with the example plugin, a broken plugin and a colliding plugin installed."""
    root = tmp_path_factory.mktemp("plugins")
    target = root / "site"
    pip_install(EXAMPLE, target)
    broken = make_distribution(
        root,
        "broken-acts",
        "raise RuntimeError('boom at import')\n",
        '[project.entry-points."nnkit.activations"]\nbroken = "broken_acts:X"\n',
    )
    clash = make_distribution(
        root,
        "clash-acts",
        "def relu(x):\n    return x\n",
        '[project.entry-points."nnkit.activations"]\nrelu = "clash_acts:relu"\n',
    )
    every_group = make_distribution(
        root,
        "every-group",
        """
        import torch

        def act(x):
            return x

        def loss(output, target):
            return ((output - target) ** 2).mean()

        def data(n: int = 10):
            import nnkit
            return nnkit.DATASETS.get("linear")(n=n)

        def model(in_features, out_features):
            return torch.nn.Linear(in_features, out_features)

        def optimizer(params, lr: float = 0.1):
            return torch.optim.SGD(params, lr=lr)

        def initializer(weight, bias, value: float = 0.5):
            torch.nn.init.constant_(weight, value)

        def scheduler(optimizer, total: int, gamma: float = 0.5):
            return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
        """,
        "".join(
            f'[project.entry-points."nnkit.{group}"]\ngroup_{group} = "every_group:{obj}"\n'
            for group, obj in ENTRY_POINT_GROUPS.items()
        ),
    )
    for project in (broken, clash, every_group):
        pip_install(project, target)
    return target


ENTRY_POINT_GROUPS = {  # the group, and what the test distribution registers there
    "activations": "act",
    "losses": "loss",
    "datasets": "data",
    "models": "model",
    "optimizers": "optimizer",
    "initializers": "initializer",
    "schedulers": "scheduler",
}


def env(site: Path, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(site), **extra}


def test_installed_plugin_is_listed_with_its_package(site):
    result = cli("nnkit.list", env=env(site))
    assert re.search(r"swish\s+package nnkit-swish 0\.1\.0", result.stdout)
    assert re.search(
        r"broken\s+UNAVAILABLE: plugin package 'broken-acts 0\.1'.*boom at import", result.stdout
    )
    assert re.search(r"relu\s+built-in", result.stdout)


def test_every_entry_point_group_the_docs_name_fills_its_registry(site):
    code = (
        "import nnkit\nfor r in nnkit.REGISTRIES:\n"
        "    print(r.kind, [(n, r.source(n)) for n in r.names('group_*')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env(site), capture_output=True, text=True, check=True
    ).stdout
    for group in ENTRY_POINT_GROUPS:
        assert f"('group_{group}', 'package every-group 0.1')" in out, (group, out)
    named = re.compile(r"`?nnkit\.(activations|losses|datasets|models|optimizers|[a-z_]+)`")
    readme = (REPO / "docs" / "guides" / "plugins.md").read_text()
    item = readme[readme.index("**Installed packages**") :].split(" — see ")[0]
    assert set(named.findall(item)) == set(ENTRY_POINT_GROUPS)
    docstring = plugins.__doc__ or ""
    sentence = docstring[docstring.index("entry points in the groups") :].split("found")[0]
    groups_in_docstring = re.findall(r"``nnkit\.([a-z]+)``", sentence)
    assert set(groups_in_docstring) == set(ENTRY_POINT_GROUPS)


def test_the_example_plugin_does_what_the_readmes_say(site, tmp_path):
    """The example package's README: its commands and what they print; the main README: its
    Function carries a ``Pair``, so it trains by the whole-network backpropagation. Its
    checkpoint names the package, and predicting without it says what to install."""
    text = (EXAMPLE / "README.md").read_text()
    commands = re.findall(r"^python -m (nnkit\.\w+) (.*?)(?:\s+# (.*))?$", text, re.MULTILINE)
    assert [c[0] for c in commands] == ["nnkit.list", "nnkit.gradcheck", "nnkit.train"]
    (_, pattern, claim), (_, name, _), (_, train_args, _) = commands
    listed = cli("nnkit.list", pattern.strip('"'), env=env(site))
    assert re.search(r"\s+".join(map(re.escape, claim.split())), listed.stdout), listed.stdout
    proved = cli("nnkit.gradcheck", name, env=env(site))
    assert proved.returncode == 0, proved.stdout
    assert re.search(r"activation\s+swish\s+smooth.*pass", proved.stdout)
    assert re.search(r"network\s+\S*swish\S*\s.*pass", proved.stdout), proved.stdout
    run = cli(
        "nnkit.train",
        *train_args.split(),
        "data.n=120",
        *FAST,
        "logger=none",
        f"hydra.run.dir={tmp_path / 'run'}",
        env=env(site),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "backpropagation: whole network, hand-derived" in run.stdout
    assert "epochs: engine (trainer.epoch_loop=auto" in run.stdout  # its epochs one by one
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    sources = torch.load(ckpt, weights_only=True)["hyper_parameters"]["sources"]
    assert sources["activation:swish"] == "package nnkit-swish 0.1.0"
    missing = cli("nnkit.predict", f"ckpt={ckpt}", "input=[0.1,0.2]")  # without the package
    assert missing.returncode == 2
    assert (
        "needs activation 'swish' from package nnkit-swish 0.1.0: pip install nnkit-swish"
        in missing.stderr
    )
    assert "nnkit.functions.Pair(swish_forward, swish_backward" in text
    guide = (REPO / "docs" / "guides" / "plugins.md").read_text()
    assert "`pair = nnkit.functions.Pair(forward, backward)` on a Function" in guide


def test_broken_plugin_warns_once_and_says_why_when_asked_for(site, tmp_path):
    result = cli(
        "nnkit.train", "model.activation=broken", f"hydra.run.dir={tmp_path}/r", env=env(site)
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "activation 'broken' is unavailable: plugin package 'broken-acts 0.1'" in result.stderr


def test_strict_mode_turns_a_broken_plugin_into_an_error(site, tmp_path):
    listed = cli("nnkit.list", "--strict", env=env(site))
    assert listed.returncode == 2 and "broken-acts 0.1" in listed.stderr
    assert len(listed.stderr.strip().splitlines()) == 1
    run_dir = tmp_path / "run"
    result = cli(
        "nnkit.train", "plugin_loading.strict=true", f"hydra.run.dir={run_dir}", env=env(site)
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "plugin package 'broken-acts 0.1'" in result.stderr and "boom at import" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not run_dir.exists()


def test_disabled_discovery_sees_no_plugin(site, tmp_path):
    assert "swish" not in cli("nnkit.list", "--no-discover", env=env(site)).stdout
    result = cli(
        "nnkit.train",
        "plugin_loading.discover=false",
        "model.activation=swish",
        f"hydra.run.dir={tmp_path}/r",
        env=env(site),
    )
    assert result.returncode == 2 and "unknown activation 'swish'" in result.stderr


def test_collision_with_a_builtin_is_loud_and_keeps_the_builtin(site):
    code = (
        "import warnings, nnkit\nwith warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n    names = nnkit.ACTIVATIONS.names()\n"
        "print(nnkit.ACTIVATIONS.source('relu'))\nprint([str(x.message) for x in w])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**env(site)}, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("built-in")
    assert "'relu' is already registered by built-in; package clash-acts 0.1 cannot replace" in out


def test_import_nnkit_loads_no_plugin_and_no_heavy_framework(site):
    code = (
        "import sys, nnkit\nheavy = {'pytorch_lightning', 'tensorboard', 'matplotlib', "
        "'hydra', 'nnkit_swish', 'broken_acts'}\nprint(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env(site), capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_config_plugin_file_registers_before_building(tmp_path):
    plugin = tmp_path / "my_acts.py"
    plugin.write_text(
        "import torch, nnkit\n\n@nnkit.register_activation('softsign')\n"
        "def softsign(x):\n    return x / (1 + x.abs())\n"
    )
    result = cli(
        "nnkit.train",
        f"plugins=[{plugin}]",
        "model.activation=softsign",
        *FAST,
        "logger=none",
        f"hydra.run.dir={tmp_path}/run",
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_plugin_author_helper_passes_good_and_fails_wrong_ops():
    sys.path.insert(0, str(EXAMPLE))
    try:
        from nnkit_swish import Swish
    finally:
        sys.path.remove(str(EXAMPLE))
    testing.check_activation(Swish)

    class Broken(Swish):
        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(AssertionError, match="gradient contract not met"):
        testing.check_activation(Broken)


def test_the_plugins_guide_runs_as_written():
    guide = (REPO / "docs" / "guides" / "plugins.md").read_text()
    section = guide.split("# Write your own activation", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert "cube_root_ish" in nnkit.ACTIVATIONS.names()


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("import sys\nsys.exit(0)\n", "called sys.exit(0) while importing"),
        ("raise SystemExit(3)\n", "called sys.exit(3) while importing"),
        ("raise KeyboardInterrupt\n", "raised KeyboardInterrupt while importing"),
        ("import time\ntime.sleep(60)\n", "did not finish importing within 1 s"),
    ],
    ids=["exit-0", "exit-3", "interrupt", "hang"],
)
def test_a_plugin_that_exits_or_hangs_is_a_broken_plugin_not_a_finished_run(tmp_path, source, said):
    plugin = tmp_path / "rude.py"
    plugin.write_text(source)
    run_dir = tmp_path / "run"
    result = cli(
        "nnkit.train",
        f"plugins=[{plugin}]",
        "plugin_loading.timeout_s=1",
        f"hydra.run.dir={run_dir}",
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"plugin module '{plugin}'" in result.stderr and said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not run_dir.exists()
