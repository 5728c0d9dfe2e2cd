"""Every config option composes against the schema and builds its objects."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import open_dict

from nnkit.config.compose import GROUPS, compose, group_options
from nnkit.config.groups import CONFIG_GROUPS
from nnkit.config.prepare import prepare
from nnkit.data.task import loss_inputs
from nnkit.train import run

OPTIONS = [(group, option) for group in GROUPS for option in group_options(group)]
NEEDS = {
    ("model", "linear"): ["data=circular"],
    ("loss", "mse"): [],
    ("loss", "bce"): ["data=circular"],
    ("loss", "cross_entropy"): [],
}


def own_file(option: str, folder: Path) -> list[str]:
    """A file for the datasets that read one (an export of the circle), as overrides."""
    import numpy as np

    from nnkit.data.export import export

    if option == "csv":
        export("circular", folder / "circle.csv", n=100)
        return [f"data.path={folder / 'circle.csv'}"]
    x = np.random.default_rng(0).normal(size=(100, 3))
    np.savez(folder / "arrays.npz", x=x, y=(x.sum(1) > 0).astype(int))
    return [f"data.path={folder / 'arrays.npz'}"]


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_validates_and_builds(group, option, tmp_path):
    extra = NEEDS.get((group, option), [])
    if group == "data" and option in ("csv", "npz"):
        extra = own_file(option, tmp_path)
    cfg = compose([f"{group}={option}", *extra])
    with open_dict(cfg):
        del cfg["hydra"]
    prepared = prepare(cfg, tmp_path)
    data, net, loss = prepared.data, prepared.net, prepared.loss
    assert data.in_features > 0 and sum(p.numel() for p in net.parameters()) > 0
    x, y = data.train
    value = loss(*loss_inputs(data.task, loss)(net(x[:4]), y[:4]))
    assert value.ndim == 0 and bool(value.isfinite()) and float(value) >= 0
    if group in CONFIG_GROUPS:
        assert cfg[group].name == option


def test_composed_config_has_every_group_and_plain_values():
    cfg = compose([])
    assert {"model", "data", "loss", "optimizer", "trainer", "logger", "seed"} <= set(cfg)
    assert cfg.model.hidden == [32] and cfg.trainer.accelerator == "auto"


def test_plugin_dataset_without_yaml_gets_a_config_option(tmp_path):
    plugin = tmp_path / "my_data.py"
    plugin.write_text(
        "import torch, nnkit\nfrom nnkit.data import split\n\n"
        "@nnkit.register_dataset('stripes')\n"
        "def stripes(n: int = 200, seed: int = 0):\n"
        "    g = torch.Generator().manual_seed(seed)\n"
        "    x = torch.rand(n, 2, generator=g)\n"
        "    return split(x, (x[:, :1] > 0.5).float(), 'binary', seed)\n"
    )
    metrics = run(
        [
            f"plugins=[{plugin}]",
            "data=stripes",
            "data.n=200",
            "trainer.max_epochs=30",
            "trainer.progress_bar=none",
            "logger=none",
            f"hydra.run.dir={tmp_path}/r",
        ]
    )
    assert metrics["val/acc"] >= 0.85  # one straight cut separates the stripes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_main_job_learns_all_ten_digits(tmp_path, seed):
    metrics = run(
        [f"seed={seed}", "trainer.progress_bar=none", "logger=none", f"hydra.run.dir={tmp_path}"]
    )
    assert metrics["val/acc"] == 1.0
