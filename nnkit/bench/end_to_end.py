"""End-to-end timing for ``python -m nnkit.bench``: process start to exit, and peak memory.

Three programs train the same 7-32-10 network on the ten 7-segment digits for 100 optimizer
steps: nnkit's main job with its defaults, a plain PyTorch script, and the minimal Hydra +
Lightning app a user would write (``hydra.main``, a LightningModule, a Trainer with
TensorBoardLogger and its default checkpointing and progress bar).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SEGMENTS = """
rows = ["1111110", "0110000", "1101101", "1111001", "0110011",
        "1011011", "1011111", "1110000", "1111111", "1111011"]
x = torch.tensor([[float(b) for b in r] for r in rows]); y = torch.arange(10)
"""

PLAIN_SCRIPT = (
    """
import torch
from torch import nn
torch.manual_seed(0); torch.set_num_threads(1)
"""
    + SEGMENTS
    + """
net = nn.Sequential(nn.Linear(7, 32), nn.ReLU(), nn.Linear(32, 10))
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
for step in range(100):
    optimizer.zero_grad(); loss = nn.functional.cross_entropy(net(x), y)
    loss.backward(); optimizer.step()
print("accuracy", float((net(x).argmax(1) == y).float().mean()))
torch.save(net.state_dict(), "plain.pt")
"""
)

HYDRA_LIGHTNING_APP = (
    """
import hydra, torch
import pytorch_lightning as pl
from omegaconf import DictConfig
from pytorch_lightning.loggers import TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
"""
    + SEGMENTS
    + """
class Digits(pl.LightningModule):
    def __init__(self, lr):
        super().__init__()
        self.net, self.lr = nn.Sequential(nn.Linear(7, 32), nn.ReLU(), nn.Linear(32, 10)), lr
    def training_step(self, batch, i):
        loss = nn.functional.cross_entropy(self.net(batch[0]), batch[1])
        self.log("train/loss", loss)
        return loss
    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)

@hydra.main(config_path=None, config_name="app", version_base="1.3")
def main(cfg: DictConfig) -> None:
    torch.set_num_threads(1); pl.seed_everything(cfg.seed, verbose=False)
    out = hydra.core.hydra_config.HydraConfig.get().runtime.output_dir
    trainer = pl.Trainer(max_steps=cfg.steps, logger=TensorBoardLogger(out), log_every_n_steps=10)
    trainer.fit(Digits(cfg.lr), DataLoader(TensorDataset(x, y), batch_size=10))

from hydra.core.config_store import ConfigStore
ConfigStore.instance().store(name="app", node={"seed": 0, "lr": 0.01, "steps": 100})
main()
"""
)

# A small parent for the timed command: a child forked from a large process would count the
# parent's pages in its peak resident memory.
_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL).returncode; "
    "print(code, time.perf_counter() - t, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def end_to_end(command: list[str], folder: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command, process start to exit."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if out[0] != "0":
        raise RuntimeError(f"{' '.join(command)} failed with status {out[0]}")
    return float(out[1]), float(out[2]) / 1024


def measure_end_to_end(repeats: int) -> dict[str, float]:
    """The main job (7-segment digits, defaults on) against the plain script and the minimal
    Hydra + Lightning app, interleaved; medians of ``repeats``."""
    results: dict[str, list[tuple[float, float]]] = {"nnkit": [], "plain": [], "app": []}
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "app.py"
        app.write_text(HYDRA_LIGHTNING_APP)
        for i in range(repeats):
            results["plain"].append(end_to_end([sys.executable, "-c", PLAIN_SCRIPT], folder))
            results["app"].append(
                end_to_end([sys.executable, str(app), f"hydra.run.dir=app{i}"], folder)
            )
            results["nnkit"].append(
                end_to_end([sys.executable, "-m", "nnkit.train", f"hydra.run.dir=run{i}"], folder)
            )
    wall = {k: statistics.median(t for t, _ in v) for k, v in results.items()}
    rss = {k: statistics.median(m for _, m in v) for k, v in results.items()}
    return {
        **{f"{k} wall s": v for k, v in wall.items()},
        **{f"{k} peak MiB": v for k, v in rss.items()},
        "nnkit / plain wall": wall["nnkit"] / wall["plain"],
        "nnkit / app wall": wall["nnkit"] / wall["app"],
        "nnkit / app peak memory": rss["nnkit"] / rss["app"],
    }
