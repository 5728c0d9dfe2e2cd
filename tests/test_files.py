"""Users' own data: CSV and NumPy files train like built-in datasets, checkpoints remember the
data's shape, predict answers label names for a value or a whole file, and bad files are
refused in one line before any folder exists."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nnkit.data.export import export
from nnkit.data.files import csv_file, npz_file
from nnkit.train import run
from tests.helpers import FAST, cli, event_tags, main_exit, main_run

QUICK = ["trainer.progress_bar=none", "logger=none"]


def predict(*argv: str) -> tuple[int, str]:
    """``nnkit.predict``'s entry point in this process: its exit code and first line."""
    from nnkit.predict import main

    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(out):
        code = main(list(argv))
    return code, (out.getvalue().splitlines() or [""])[0]


def circle_table(path: Path, n: int = 400, labels=("outside", "inside"), seed: int = 0) -> Path:
    """Points in a square, labelled by whether they are inside a circle; raw (unscaled)
    features on very different scales: metres and millimetres."""
    generator = np.random.default_rng(seed)
    xy = generator.uniform(-1, 1, (n, 2))
    inside = (xy**2).sum(1) < 0.36
    lines = ["east_m,north_mm,where"] + [
        f"{x:.6f},{1000 * y:.3f},{labels[int(i)]}" for (x, y), i in zip(xy, inside, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_a_csv_trains_logs_checkpoints_and_predicts_label_names(tmp_path):
    table = circle_table(tmp_path / "points.csv")
    run_dir = tmp_path / "run"
    result = cli(
        "nnkit.train", "data=csv", f"data.path={table}", "data.target=where", *FAST,
        "trainer.max_epochs=40", f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "data: binary on 2 inputs (east_m, north_mm), classes inside, outside; 280/60/60 rows, "
        "standardised by the training split" in result.stdout
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["val/acc"] >= 0.9
    assert {"train/loss_step", "val/acc"} <= set(event_tags(run_dir / "tensorboard")["scalars"])
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    data = torch.load(ckpt, weights_only=True)["hyper_parameters"]["data"]
    assert data["features"] == ["east_m", "north_mm"] and data["labels"] == ["inside", "outside"]
    assert abs(data["std"][1] / data["std"][0] - 1000) < 100  # raw scales were kept
    inside = cli("nnkit.predict", f"ckpt={ckpt}", "input=[0.05,-30]")  # the real command
    assert inside.stdout.splitlines()[0] == "prediction: inside", inside.stderr
    assert predict(f"ckpt={ckpt}", "input=[0.95,900]") == (0, "prediction: outside")
    target = tmp_path / "points.predictions.csv"
    code, first = predict(f"ckpt={ckpt}", f"input={table}")  # the target column stays
    assert code == 0 and first == f"predicted 400 rows of {table}: {target}"
    lines = target.read_text().splitlines()
    assert lines[0] == "prediction,p_inside,p_outside" and len(lines) == 401
    answers = [line.split(",")[0] for line in lines[1:]]
    truth = [line.split(",")[2] for line in table.read_text().splitlines()[1:]]
    assert np.mean([a == t for a, t in zip(answers, truth, strict=True)]) >= 0.9
    assert all(abs(float(p) + float(q) - 1) < 1e-5 for _, p, q in (x.split(",") for x in lines[1:]))


def test_an_export_of_a_built_in_dataset_reaches_the_built_in_accuracy(tmp_path):
    path = tmp_path / "circle.csv"
    assert export("circular", path, n=600) == 600
    common = [*QUICK, "trainer.max_epochs=30"]
    built_in = run(["data=circular", "data.n=600", *common, f"hydra.run.dir={tmp_path / 'a'}"])
    own = run(["data=csv", f"data.path={path}", "data.split_column=split", *common,
               f"hydra.run.dir={tmp_path / 'b'}"])  # fmt: skip
    assert own["val/acc"] >= 0.9 and abs(own["val/acc"] - built_in["val/acc"]) <= 0.03
    assert abs(own["test/acc"] - built_in["test/acc"]) <= 0.03


def test_npz_and_npy_pairs_train_a_regression(tmp_path):
    generator = np.random.default_rng(0)
    x = generator.uniform(-1, 1, (400, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.01 * generator.standard_normal(400)
    np.savez(tmp_path / "table.npz", x=x, y=y)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    common = [*QUICK, "trainer.max_epochs=30", "model=linear"]
    packed = run(["data=npz", f"data.path={tmp_path / 'table.npz'}", *common,
                  f"hydra.run.dir={tmp_path / 'a'}"])  # fmt: skip
    paired = run(["data=npz", f"data.path={tmp_path / 'x.npy'}",
                  f"data.target={tmp_path / 'y.npy'}", *common,
                  f"hydra.run.dir={tmp_path / 'b'}"])  # fmt: skip
    assert packed["val/r2"] >= 0.99 and packed == paired
    ckpt = tmp_path / "a" / "checkpoints" / "last.ckpt"
    np.save(tmp_path / "new.npy", np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]))
    out = tmp_path / "answers.csv"
    code, first = predict(f"ckpt={ckpt}", f"input={tmp_path / 'new.npy'}", f"output={out}")
    assert code == 0, first
    lines = out.read_text().splitlines()
    assert lines[0] == "prediction" and abs(float(lines[1]) - 0.5) < 0.05
    assert abs(float(lines[2]) + 1.0) < 0.05


@pytest.mark.parametrize(
    ("targets", "task", "expected"),
    [
        (["a", "b", "a", "b"], "auto", ("binary", ("a", "b"))),
        (["3", "1", "2", "10"], "auto", ("multiclass", ("1", "2", "3", "10"))),
        (["0.5", "1.25", "2", "3"], "auto", ("regression", ())),
        (["1", "2", "3", "4"], "regression", ("regression", ())),
        (["1", "2", "1", "2"], "multiclass", ("multiclass", ("1", "2"))),
    ],
)
def test_the_task_is_inferred_from_the_targets(tmp_path, targets, task, expected):
    rows = [f"{i},{targets[i % 4]}" for i in range(40)]
    path = tmp_path / "t.csv"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    data = csv_file(str(path), task=task)
    assert (data.task, data.labels) == expected


@pytest.mark.parametrize(("name", "character"), [("semicolon", ";"), ("tab", "\t")])
def test_a_delimiter_the_command_line_cannot_type_is_named(tmp_path, monkeypatch, capsys, name,
                                                           character):  # fmt: skip
    """``data.delimiter=;`` is outside Hydra's grammar; its name trains the file (through the
    command line's entry point)."""
    table = circle_table(tmp_path / "points.csv")
    path = tmp_path / "points.txt"
    path.write_text(table.read_text().replace(",", character))
    line = ["data=csv", f"data.path={path}", "data.target=where", f"data.delimiter={name}",
            *FAST, "logger=none", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    code, out, err = main_run(line, monkeypatch, capsys)
    assert code == 0, err[-2000:]
    assert "data: binary on 2 inputs (east_m, north_mm)" in out


def test_standardisation_uses_the_training_split_alone(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y,split\n" + "".join(f"{v},{v % 2},{s}\n" for v, s in
                    [(1, "train"), (3, "train"), (100, "val"), (200, "test")]))  # fmt: skip
    data = csv_file(str(path), target="y", split_column="split")
    assert data.mean == (2.0,) and data.std == (1.0,)
    assert data.val[0].tolist() == [[98.0]] and data.train[0].flatten().tolist() == [-1.0, 1.0]


def bad_file(folder: Path, kind: str) -> tuple[list[str], str]:
    """An override line for a bad file, and the words its refusal must hold."""
    good = "a,b,label\n" + "".join(f"{i},{i * 2},{'yes' if i % 2 else 'no'}\n" for i in range(20))
    path = folder / "t.csv"
    line = ["data=csv", f"data.path={path}", "data.target=label"]
    if kind == "missing":
        return line, f"data.path={path} does not exist"
    contents = {
        "misspelled": (good, ["data.target=lable"],
                       "data.target='lable' is not a column of"),
        "feature": (good, ["data.features=[a,c]"], "data.features='c' is not a column"),
        "text": (good.replace("4,8,", "4,eight,"), [], "line 6, column 'b': 'eight' is not a"),
        "nan": (good.replace("4,8,", "4,nan,"), [], "line 6, column 'b': nan is not a finite"),
        "inf": (good.replace("4,8,", "4,-inf,"), [], "column 'b': -inf is not a finite number"),
        "empty": (good.replace("4,8,", "4,,"), [], "line 6, column 'b': empty cell"),
        "no target": (good.replace("4,8,no", "4,8,"), [], "line 6, column 'label': empty target"),
        "one class": (good.replace("yes", "no"), [], "holds one class ('no')"),
        "few rows": ("a,label\n1,x\n2,y\n3,x\n", [], "has 3 rows: its train/val/test splits"),
        "ragged": (good.replace("4,8,no", "4,8,no,extra"), [], "line 6 has 4 fields"),
        "empty file": ("", [], "is empty"),
        "split": (good.replace(",no\n", ",no,train\n").replace(",yes\n", ",yes,tset\n")
                  .replace("label\n", "label,split\n"), ["data.split_column=split"],
                  "split value 'tset' is not one of"),
        "binary": (good.replace("yes\n", "maybe\n", 3), ["data.task=binary"],
                   "data.task=binary needs 2 classes"),
        "task": (good, ["data.task=clasify"], "data.task='clasify' is not valid"),
        "delimiter": (good, ["data.delimiter=ab"], "should be one character"),
        "delimiter name": (good, ["data.delimiter=semicolom"],
                           "or a name — did you mean 'semicolon'? (choose from: comma, semicolon"),
        "other delimiter": (good.replace(",", ";"), ["data.target=label"],
                            "not split by ',' — set data.delimiter=semicolon"),
        "binary file": (None, [], "is not a readable CSV text file"),
    }  # fmt: skip
    text, extra, message = contents[kind]
    if text is None:
        path.write_bytes(bytes(range(256)) * 4)
    else:
        path.write_text(text)
    return [*line, *extra], message


BAD_FILES = ["missing", "misspelled", "feature", "text", "nan", "inf", "empty", "no target",
             "one class", "few rows", "ragged", "empty file", "split", "binary", "task",
             "delimiter", "delimiter name", "other delimiter", "binary file"]  # fmt: skip


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_files_are_refused_in_one_line_before_any_folder(tmp_path, monkeypatch, capsys, kind):
    line, message = bad_file(tmp_path, kind)
    run_dir = tmp_path / "run"
    code, err = main_exit([*line, f"hydra.run.dir={run_dir}"], monkeypatch, capsys)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not run_dir.exists()


def test_a_misspelled_column_gets_a_did_you_mean(tmp_path, monkeypatch, capsys):
    line, _ = bad_file(tmp_path, "misspelled")
    code, err = main_exit([*line, f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert code == 2 and "— did you mean 'label'? (columns: a, b, label)" in err


def test_a_file_larger_than_memory_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as file:  # sparse: a terabyte that takes no disk
        file.write(b"a,b\n")
        file.truncate(1 << 40)
    code, err = main_exit(["data=csv", f"data.path={huge}", f"hydra.run.dir={tmp_path / 'r'}"],
                          monkeypatch, capsys)  # fmt: skip
    assert code == 2 and "is 1024.00 GiB; reading it needs about 12288.0 GiB of memory" in err


def test_npz_refusals_name_the_arrays(tmp_path):
    np.savez(tmp_path / "t.npz", inputs=np.zeros((10, 2)), y=np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"has no array 'x' \(arrays: inputs, y\)"):
        npz_file(str(tmp_path / "t.npz"))
    np.savez(tmp_path / "u.npz", x=np.zeros((10, 2)), y=np.arange(9))
    with pytest.raises(ValueError, match=r"features \(10, 2\) and targets \(9,\)"):
        npz_file(str(tmp_path / "u.npz"))


@pytest.fixture(scope="module")
def table_model(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("model")
    table = circle_table(folder / "points.csv", n=200)
    run(["data=csv", f"data.path={table}", "data.target=where", *QUICK, "trainer.max_epochs=2",
         f"hydra.run.dir={folder / 'run'}"])  # fmt: skip
    return folder / "run" / "checkpoints" / "last.ckpt", table


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ("east_m\n1\n", "has 1 columns; this model takes 2 (east_m, north_mm)"),
        ("east_m,north_mm\n1,x\n", "line 2, column 'north_mm': 'x' is not a number"),
        ("1,2\n3,1e39\n", "row 2, does not fit in float32"),
        ("east_m,north_mm\n", "has no rows to predict"),
    ],
)
def test_predicting_a_bad_file_is_refused_in_one_line(table_model, tmp_path, contents, message):
    ckpt, _ = table_model
    path = tmp_path / "in.csv"
    path.write_text(contents)
    code, line = predict(f"ckpt={ckpt}", f"input={path}")
    assert code == 2 and message in line and line.startswith("nnkit.predict: error:"), line
    assert not (tmp_path / "in.predictions.csv").exists()


def test_predicting_a_million_rows_is_one_batch(table_model, tmp_path):
    ckpt, _ = table_model
    rows = np.random.default_rng(0).uniform(-1, 1, (1_000_000, 2))
    np.save(tmp_path / "many.npy", rows)
    code, line = predict(f"ckpt={ckpt}", f"input={tmp_path / 'many.npy'}")
    assert code == 0, line
    with (tmp_path / "many.predictions.csv").open() as file:
        assert sum(1 for _ in file) == 1_000_001
