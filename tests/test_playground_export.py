"""The playground to and from the command line: an exported session replayed by the real
``nnkit.train`` gives the session's weights bit for bit, its checkpoint resumes there and
loads in ``nnkit.predict``/``nnkit.explain``/``nnkit.draw``; ``ckpt=`` opens a command-line
run where it stands; "explain this step" gives ``nnkit.explain``'s numbers."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import torch

from nnkit.errors import ConfigError
from nnkit.playground.__main__ import start
from nnkit.playground.handover import export
from nnkit.playground.session import Session
from nnkit.playground.step_panel import ARTICLE, ARTICLE_POINT, explain_step, set_article_weights
from nnkit.runs.checkpoints import load_checkpoint
from nnkit.viz.step import article_network, trace
from tests.helpers import cli

RUN = ["data=circular", "data.n=200", "model.hidden=[4,2]", "model.activation=tanh",
       "optimizer=sgd", "optimizer.lr=0.03", "data.batch_size=10",
       "scheduler=warmup_cosine", "scheduler.interval=step", "scheduler.warmup=30"]  # fmt: skip


def _weights(path: Path) -> list[torch.Tensor]:
    return list(load_checkpoint(path)["state_dict"].values())


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _train(line: list[str], run_dir: Path) -> Path:
    done = cli("nnkit.train", *line, f"hydra.run.dir={run_dir}", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return run_dir / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Session, dict, Path]:
    folder = tmp_path_factory.mktemp("playground")
    session = Session(RUN)
    while session.epoch < 4:
        session.advance(3)  # in chunks, as the server trains between frames
    return session, export(session, folder), folder


@pytest.fixture(scope="module")
def replayed(exported) -> Path:
    """The export's command line, run by the real ``nnkit.train``: its last checkpoint."""
    _, reply, folder = exported
    return _train(shlex.split(reply["command"])[3:], folder / "replay")


def test_an_exported_session_is_replayed_bit_for_bit_by_nnkit_train(exported, replayed):
    session, reply, _ = exported
    assert reply["reproducible"] and reply["epoch"] == 4
    line = shlex.split(reply["command"])[3:]
    assert "trainer.max_epochs=4" in line and "trainer.compile=native" in line
    assert "optimizer.lr=0.03" in line and "scheduler.total=1400" in line  # 100 epochs' steps
    assert session.optimizer.param_groups[0]["lr"] != 0.03  # the schedule moved the rate
    ours = [p.detach() for p in session.net.network_params()]
    assert _same(_weights(replayed), ours)
    assert _same(_weights(Path(reply["folder"]) / "checkpoints" / "last.ckpt"), ours)
    assert "optimizer:" in reply["config"] and (Path(reply["folder"]) / "command.sh").exists()


def test_the_exported_checkpoint_resumes_where_the_session_goes_on(exported):
    _, reply, folder = exported
    checkpoint = Path(reply["folder"]) / "checkpoints" / "last.ckpt"
    line = [o for o in shlex.split(reply["command"])[3:] if "max_epochs" not in o]
    resumed = _train([*line, "trainer.max_epochs=6", f"ckpt_path={checkpoint}"], folder / "on")
    on = Session(RUN)
    on.restore(load_checkpoint(checkpoint))
    on.train_epochs(2)
    assert on.epoch == 6 and _same(_weights(resumed), [p.detach() for p in on.net.network_params()])


@pytest.mark.parametrize(
    "module, args",
    [
        ("nnkit.predict", ["input=[0.1,0.2]"]),
        ("nnkit.explain", ["input=[0.1,0.2]", "target=[1]"]),
        ("nnkit.draw", ["input=[0.1,0.2]", "target=[1]", "out=NET"]),
    ],
)
def test_the_exported_checkpoint_loads_in_the_other_commands(exported, module, args):
    _, reply, folder = exported
    checkpoint = Path(reply["folder"]) / "checkpoints" / "last.ckpt"
    picture = folder / f"{module}.png"
    args = [a.replace("NET", str(picture)) for a in args]
    done = cli(module, f"ckpt={checkpoint}", *args)
    assert done.returncode == 0, done.stderr
    assert module != "nnkit.draw" or picture.stat().st_size > 1000


def test_a_session_changed_while_it_trained_says_its_line_replays_settings_only(tmp_path):
    session = Session(RUN)
    session.train_epochs(1)
    session.set_weight(0, 1, 0, 2.5)
    reply = export(session, tmp_path)
    assert not reply["reproducible"] and "weight was typed at step 14" in reply["altered"]
    saved = load_checkpoint(Path(reply["folder"]) / "checkpoints" / "last.ckpt")
    assert float(saved["state_dict"]["net.layers.0.weight"][1, 0]) == 2.5


def test_ckpt_opens_a_command_line_run_where_it_stands(replayed):
    base, checkpoint = start({"ckpt": str(replayed)}, [])
    assert "model.hidden=[4,2]" in base and "optimizer=sgd" in base
    opened = Session(base)
    assert checkpoint is not None
    opened.restore(checkpoint)
    assert opened.epoch == 4 and opened.steps == 4 * 14
    assert _same(_weights(replayed), [p.detach() for p in opened.net.network_params()])


def test_a_run_not_trained_yet_has_nothing_to_export(tmp_path):
    with pytest.raises(ConfigError, match="nothing to export yet"):
        export(Session(RUN), tmp_path)
    assert not (tmp_path / "playground-exports").exists()


def test_a_missing_checkpoint_is_refused_in_one_line(tmp_path):
    done = cli("nnkit.playground", "open=false", f"ckpt={tmp_path / 'none.ckpt'}")
    assert done.returncode == 2 and "none.ckpt' does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_explain_this_step_gives_the_articles_numbers():
    session = Session(ARTICLE)
    set_article_weights(session)
    step = explain_step(session, *ARTICLE_POINT)
    reference = trace(article_network(), torch.tensor([ARTICLE_POINT[0]]).double(),
                      torch.tensor([ARTICLE_POINT[1]]).double(), lr=0.1)  # fmt: skip
    hidden = [(u["weighted"], u["activated"]) for u in step["layers"][0]["units"]]
    assert [(round(z, 4), round(a, 4)) for z, a in hidden] == [(3.25, 3.25), (-0.3, 0.0)]
    assert round(step["answer"][0], 4) == 0.9985 and step["difference"] < 1e-12
    assert step["cost"] == pytest.approx(reference.cost, rel=1e-12)
    corrections = reference.layers[0].weight_correction
    assert corrections is not None
    assert step["layers"][0]["units"][0]["weight_corrections"] == corrections[0].tolist()


def test_explain_takes_a_training_point_with_its_label_and_features():
    session = Session([*RUN, "model.features=[x1,x2,x1_sq]", "data=gaussians",
                       "data.classes=3"])  # fmt: skip
    x, y = session.data.train
    step = explain_step(session, x[0].tolist(), y[0].reshape(-1).tolist())
    first = step["layers"][0]["units"][0]
    assert len(step["layers"]) == 3 and len(first["weight_corrections"]) == 3
    assert len(step["answer"]) == 3
    assert step["difference"] < 1e-9


def test_many_seeds_at_once_are_replayed_bit_for_bit_too(tmp_path):
    session = Session([*RUN, "trainer.replicas=3"])
    while session.epoch < 2:
        session.advance(5)
    reply = export(session, tmp_path)
    replayed = load_checkpoint(_train(shlex.split(reply["command"])[3:], tmp_path / "replay"))
    ours = session.net.state_dict()
    assert all(torch.equal(replayed["state_dict"][f"net.{k}"], v) for k, v in ours.items())
    assert len(ours) == 6 and next(iter(ours.values())).shape[0] == 3
