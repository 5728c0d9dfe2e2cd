"""Datasets and fast batching."""

from __future__ import annotations

import pytest
import torch

import nnkit
from nnkit.data.datamodule import TensorBatches
from nnkit.data.seven_segment import DIGITS

BUILT_IN = [
    n for n in nnkit.DATASETS.names() if not getattr(nnkit.DATASETS.get(n), "reads_files", 0)
]
GENERATED = [n for n in BUILT_IN if n != "digits"]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_dataset_gives_consistent_splits_and_sizes(name):
    data = nnkit.DATASETS.get(name)()
    for x, y in (data.train, data.val, data.test):
        assert len(x) == len(y) > 0 and x.shape[-1] == data.in_features
        if data.task == "multiclass":
            assert y.dtype == torch.int64 and int(y.max()) < data.out_features
        elif data.task == "binary":
            assert y.shape[-1] == 1 and set(y.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", GENERATED)
def test_generated_data_is_deterministic_given_its_seed(name):
    fn = nnkit.DATASETS.get(name)
    first, again, other = fn(seed=3), fn(seed=3), fn(seed=4)
    assert torch.equal(first.train[0], again.train[0])
    if name != "seven_segment":
        assert not torch.equal(first.train[0], other.train[0])


def test_seven_segment_encodes_the_article_six():
    data = nnkit.DATASETS.get("seven_segment")(noise=0.2, copies=3)
    assert DIGITS[6] == "1011111" and len(data.train[0]) == 40
    assert torch.equal(data.val[0], data.test[0]) and data.val[1].tolist() == list(range(10))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("circular", {"n": 0}, r"dataset 'circular': n=0 is out of range \(valid: n > 0\)"),
        ("circular", {"radius": -1.0}, r"radius=-1.0 is out of range"),
        ("xor", {"noise": 1.5}, r"noise=1.5 is out of range \(valid: noise >= 0.0 and <= 1.0\)"),
        ("seven_segment", {"noise": -0.1}, "noise=-0.1 is out of range"),
        ("linear", {"dim": 0}, "dim=0 is out of range"),
        ("spiral", {"turns": 0.0}, "turns=0.0 is out of range"),
        (
            "gaussians",
            {"classes": 13},
            r"classes=13 is out of range \(valid: classes >= 2 and <= 12\)",
        ),
        ("plane", {"train_fraction": 0.95}, "train_fraction=0.95 is out of range"),
    ],
)
def test_bad_parameters_are_one_line_errors(name, params, message):
    with pytest.raises(ValueError, match=message):
        nnkit.DATASETS.get(name)(**params)


@pytest.mark.parametrize("name", ["circular", "xor", "spiral", "gaussians", "plane", "bump"])
def test_the_playgrounds_sets_take_their_ratio_of_training_points(name):
    data = nnkit.DATASETS.get(name)(n=400, train_fraction=0.3)
    assert [len(part[0]) for part in (data.train, data.val, data.test)] == [120, 140, 140]


def test_gaussians_of_k_classes_lie_round_a_circle_one_blob_each():
    data = nnkit.DATASETS.get("gaussians")(n=600, classes=6, spread=0.05)
    x, y = data.train
    assert data.task == "multiclass" and data.classes == 6 and set(y.tolist()) == set(range(6))
    centres = torch.stack([x[y == k].mean(dim=0) for k in range(6)])
    assert torch.allclose(centres.norm(dim=1), torch.full((6,), 0.6), atol=0.02)


def test_circle_labels_follow_the_radius():
    data = nnkit.DATASETS.get("circular")(n=500, radius=0.5)
    x, y = data.train
    assert torch.equal((x.norm(dim=1) < 0.5).float().unsqueeze(1), y)


def test_batches_shuffle_per_epoch_reproducibly():
    x, y = torch.arange(20.0).unsqueeze(1), torch.arange(20)
    batches = TensorBatches(x, y, batch_size=6, shuffle=True, seed=1)
    orders = []
    for epoch in (0, 1, 0):
        batches.sampler.set_epoch(epoch)
        orders.append(torch.cat([b[1] for b in batches]).tolist())
    assert orders[0] == orders[2] != orders[1] and sorted(orders[0]) == list(range(20))


def test_batches_group_for_multi_step_calls_and_shard_evenly():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    grouped = list(TensorBatches(x, y, batch_size=2, group=2))
    assert [len(g) for g in grouped] == [2, 2, 1] and len(TensorBatches(x, y, 2, group=2)) == 3
    shards = [list(TensorBatches(x, y, 3, rank=r, world_size=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 2
    seen = torch.cat([b[1] for shard in shards for b in shard]).tolist()
    assert len(set(seen)) == len(seen)
