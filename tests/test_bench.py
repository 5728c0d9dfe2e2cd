"""The benchmark is a command; this only proves it runs and writes its JSON (no timing asserts)."""

from __future__ import annotations

import json

from nnkit import bench


def test_bench_runs_at_a_tiny_size_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    assert (
        bench.main(["--repeats", "1", "--scale", "0.001", "--out", str(out), "--no-end-to-end"])
        == 0
    )
    report = json.loads(out.read_text())
    assert set(report["results"]) == set(bench.CASES)
    for row in report["results"].values():
        assert row["raw / raw"] == 1.0 or row["raw / raw"] != row["raw / raw"]
        assert {
            "nnkit samples/s",
            "lightning samples/s",
            "nnkit-backend-torch / raw",
            "sklearn / raw",
        } <= set(row)
    assert report["machine"]["torch"]
