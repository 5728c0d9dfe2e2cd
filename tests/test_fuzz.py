"""The machine looks for holes in the refusal: generated override lines, checkpoints and
``nnkit.predict`` inputs. Each either works or is refused with one line (exit code 2, no
traceback, no run folder); nothing exits 0 without ``metrics.json``.

Profiles (``tests/conftest.py``): ``ci`` (the default, a few hundred examples in all) and
``long`` (thousands): ``python -m pytest tests/test_fuzz.py --hypothesis-profile=long``.
"""

from __future__ import annotations

import pickle
import shutil
import string
import tempfile
from functools import cache
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nnkit.catalog import REGISTRIES
from nnkit.config.compose import GROUPS, compose, group_options
from nnkit.errors import USER_ERRORS
from nnkit.training.preflight import preflight
from tests.helpers import cli

SKIPPED_KEYS = ("plugins", "hydra.")  # plugins import modules by name; hydra.* is Hydra's


@cache
def config_keys() -> list[str]:
    """Every leaf key of the composed default config (and of each option of every group)."""
    keys: set[str] = set()

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            keys.add(prefix.rstrip("."))

    from omegaconf import OmegaConf

    for line in [
        [],
        *[[f"{g}={o}"] for g in ("model", "data", "optimizer") for o in group_options(g)],
    ]:
        cfg = compose(line)
        walk(OmegaConf.to_container(cfg, resolve=False, throw_on_missing=False), "")
    return sorted(k for k in keys if not k.startswith(SKIPPED_KEYS))


@cache
def names() -> list[str]:
    found = {n for registry in REGISTRIES for n in registry.names()}
    return sorted(found | {o for g in GROUPS for o in group_options(g)})


def typo(word: str) -> st.SearchStrategy[str]:
    """Words near ``word``: a letter dropped, doubled or swapped, or the case changed."""
    if len(word) < 2:
        return st.just(word + word)
    return st.integers(0, len(word) - 2).flatmap(
        lambda i: st.sampled_from(
            [
                word[:i] + word[i + 1 :],
                word[:i] + word[i] + word[i:],
                word[:i] + word[i + 1] + word[i] + word[i + 2 :],
                word.upper(),
            ]
        )
    )


SPECIAL = [
    "null", "", "nan", "inf", "-inf", "1e308", "-1e308", "1e-308", "-0.0", "0", "-1",
    "true", "false", "[]", "{}", "[[]]", "'quoted'", "1,2", "range(0,3)", "range(0,0)",
    "interval(0,1)", "choice(a,b)", "glob(*)", "tag(log,interval(0.001,1))", "shuffle(1,2)",
    "${seed}", "${oc.env:HOME}", "99999999999999999999999", "0x10", "💥", "a b",
]  # fmt: skip


def values() -> st.SearchStrategy[str]:
    element = st.one_of(
        st.integers(-(10**12), 10**12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(names()),
    )
    nested = st.recursive(
        element, lambda inner: st.lists(inner, max_size=3).map(lambda v: f"[{','.join(v)}]"),
        max_leaves=6,
    )  # fmt: skip
    return st.one_of(
        st.sampled_from(SPECIAL),
        nested,
        st.sampled_from(names()).flatmap(typo),
        st.text(max_size=6),
    )


def overrides() -> st.SearchStrategy[str]:
    keys = st.one_of(
        st.sampled_from(config_keys()),
        st.sampled_from(GROUPS),
        st.sampled_from(config_keys()).flatmap(typo),
    )
    prefixes = st.sampled_from(["", "", "", "+", "++", "~"])
    return st.tuples(prefixes, keys, values(), st.booleans()).map(
        lambda p: f"~{p[1]}" if p[0] == "~" and p[3] else f"{p[0]}{p[1]}={p[2]}"
    )


LINES = st.tuples(st.booleans(), st.lists(overrides(), min_size=1, max_size=3)).map(
    lambda t: (["-m"] if t[0] else []) + t[1]
)


def refused_cleanly_or_prepared(argv: list[str]) -> str | None:
    """Preflight ``argv`` in-process: None if it would run, else the one-line refusal; any
    other exception, or a run folder left behind, fails the test."""
    folder = Path(tempfile.mkdtemp()) / "run"
    try:
        preflight([*argv, f"hydra.run.dir={folder}", f"hydra.sweep.dir={folder}"])
    except USER_ERRORS as error:
        message = str(error)
        assert message and "\n" not in message, (argv, message)
        return message
    finally:
        assert not folder.exists(), argv
        shutil.rmtree(folder.parent, ignore_errors=True)
    return None


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
@example(["model=null"])
@example(["data=null"])
@example(["trainer.devices=1000"])
@example(["trainer.threads=99999999999999999999999"])
@example(["seed=99999999999999999999999"])
@example(["data.seed=-1"])
@example(["data=circular", "data.n=99999999999"])
@example(["model.hidden=[100000,100000]"])
@example(["-m", "optimizer.lr=interval(0,1)"])
@example(["ckpt_path=/"])
@example(["ckpt_path=nan"])
@example(["~data.batch_size"])
@example(["model.name=null"])
@example(["-m", "ckpt_path=glob(*)"])
@example(["optimizer=adamw", "optimizer.betas=[2,3]"])
def test_generated_override_lines_run_or_are_refused_in_one_line(argv):
    refused_cleanly_or_prepared(argv)


@settings(max_examples=2, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(LINES)
@example(["model=null"])
@example(["trainer.max_epochs=1", "seed=3"])
def test_the_real_command_line_agrees(argv):
    """A sample of generated lines through ``python -m nnkit.train`` itself."""
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        quick = ["trainer.max_epochs=1", "trainer.progress_bar=none", "logger=none"]
        result = cli(
            "nnkit.train", *argv, *quick, f"hydra.run.dir={run_dir}", f"hydra.sweep.dir={run_dir}",
            timeout=120,
        )  # fmt: skip
        assert "Traceback" not in result.stderr, (argv, result.stderr[-2000:])
        if result.returncode == 0:
            assert list(run_dir.rglob("metrics.json")), argv
        else:
            assert result.returncode == 2, (argv, result.returncode, result.stderr[-2000:])
            assert len(result.stderr.strip().splitlines()) == 1, (argv, result.stderr)
            assert not run_dir.exists(), argv


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory) -> Path:
    from nnkit.train import run

    folder = tmp_path_factory.mktemp("good")
    run(
        [
            "trainer.max_epochs=1",
            "trainer.progress_bar=none",
            "logger=none",
            f"hydra.run.dir={folder}",
        ]
    )
    return folder / "checkpoints" / "last.ckpt"


CHECKPOINT_OBJECTS = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=10),
    st.dictionaries(st.sampled_from(["state_dict", "hyper_parameters", "epoch"]), st.integers()),
    st.just({"state_dict": {}, "hyper_parameters": {"config": {}}}),
    st.just({"state_dict": {"net.layers.0.weight": torch.zeros(2)}, "hyper_parameters": {}}),
    st.just({"state_dict": 0, "hyper_parameters": 0}),
    st.just({"state_dict": {"a": 1}, "hyper_parameters": {"config": {}, "data": {}}}),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.floats(0, 1),
    noise=st.binary(max_size=64),
    obj=CHECKPOINT_OBJECTS,
    kind=st.sampled_from(["truncated", "bytes", "torch", "pickle"]),
)
def test_broken_checkpoints_are_refused_in_one_line(good_checkpoint, cut, noise, obj, kind):
    from nnkit.models import MLP
    from nnkit.runs.checkpoints import check_resumable

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.ckpt"
        if kind == "truncated":
            whole = good_checkpoint.read_bytes()
            path.write_bytes(whole[: int(len(whole) * cut)] + noise)
        elif kind == "bytes":
            path.write_bytes(noise)
        elif kind == "torch":
            torch.save(obj, path)
        else:
            path.write_bytes(pickle.dumps(obj))
        try:
            check_resumable(str(path), Path(folder), MLP(7, 10))
        except USER_ERRORS as error:
            assert str(error) and "\n" not in str(error)


REPLICAS = st.sampled_from(["replica=5", "replica=best", "replica=0", "replica=-1", "replica="])


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(values(), st.text(max_size=8), REPLICAS), max_size=3))
@example(["input=[1,0,1,1,1,1,1]"])
@example(["input=[1e39,0,0,0,0,0,0]"])
@example(["input=[1e308,1e308,1e308,1e308,1e308,1e308,1e308]"])
@example(["input=[1,0,1,1,1,1,1]", "replica=3"])
@example(["input=[nan,inf,-inf,1e308,0,0,0]"])
@example(["input=[[1]]"])
@example(["input=1"])
def test_predict_takes_any_input_without_a_traceback(good_checkpoint, args):
    from nnkit import predict

    argv = [f"ckpt={good_checkpoint}", *[a if "=" in a else f"input={a}" for a in args]]
    assert predict.main(argv) in (0, 2)


SEGMENT = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=8).filter(
    lambda name: name.strip(".")  # "." and ".." name no new folder
)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.sampled_from(["file", "/proc/version"]),
    below=st.lists(SEGMENT, min_size=1, max_size=3),
)
def test_run_folders_that_cannot_be_written_are_refused_in_one_line(tmp_path, base, below):
    """Run folders below a file: refused before the run, in one line naming the folder; nothing
    is created. (Read-only filesystems and permissions: tests/test_storage.py.)"""
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    folder = Path(blocker if base == "file" else base).joinpath(*below)
    try:
        preflight(["trainer.max_epochs=1", f"hydra.run.dir={folder}"])
    except USER_ERRORS as error:
        message = str(error)
        assert "\n" not in message and "cannot be" in message, message
    else:
        raise AssertionError(f"{folder} was accepted")
    assert not folder.exists() and sorted(tmp_path.iterdir()) == [blocker]


def test_profiles_are_registered():
    assert settings.get_profile("ci").max_examples >= 100
    assert settings.get_profile("long").max_examples >= 1000


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 5).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "yes", "no", '"1,5"', "1e999", "💥", '"']),
    st.text(max_size=4),
)


@st.composite
def csv_files(draw) -> tuple[str, dict]:
    """CSV text, often malformed (ragged rows, empty or odd cells, odd names), and settings."""
    width = draw(st.integers(1, 4))
    names = draw(st.lists(st.sampled_from(["a", "b", "label", "", "a b", "é"]), min_size=width,
                          max_size=width))  # fmt: skip
    rows = draw(st.lists(st.lists(CELLS, min_size=max(0, width - 1), max_size=width + 1),
                         max_size=12))  # fmt: skip
    text = "\n".join(",".join(row) for row in [names, *rows]) + draw(st.sampled_from(["", "\n"]))
    settings_ = {
        "target": draw(st.sampled_from(["", "label", "lable", "a"])),
        "task": draw(st.sampled_from(["auto", "binary", "multiclass", "regression"])),
        "header": draw(st.booleans()),
        "delimiter": draw(st.sampled_from([",", ";"])),
    }
    return text, settings_


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(csv_files())
@example(("a,label\n1,x\n2,y\n", {"target": "label", "task": "auto", "header": True,
                                   "delimiter": ","}))  # fmt: skip
def test_malformed_files_train_or_are_refused_in_one_line(tmp_path, generated):
    """Generated CSV files through the same builder a run uses: data, or one line."""
    from nnkit.config.build import build_data

    text, options = generated
    path = tmp_path / "t.csv"
    path.write_text(text)
    try:
        data = build_data({"name": "csv", "path": str(path), "batch_size": 1, **options})
    except USER_ERRORS as error:
        assert str(error) and "\n" not in str(error), str(error)
        return
    assert data.in_features >= 1 and all(len(part[0]) for part in (data.train, data.val, data.test))
    assert all(torch.isfinite(part[0]).all() for part in (data.train, data.val, data.test))
