"""The experiments generator runs end to end at a token size, so the report cannot rot."""

from __future__ import annotations

from experiments import report


def test_report_generator_runs_every_claim_at_tiny_size(tmp_path):
    sections = report.generate(tmp_path, tiny=True)
    assert [s.number for s in sections] == list(range(1, 15))
    text = (tmp_path / "README.md").read_text()
    for section in sections:
        assert f"## {section.number}. {section.title}" in text
        assert section.verdict and section.result
        if section.figure:
            assert (tmp_path / "figures" / section.figure).stat().st_size > 1000
    assert "at the tiny test size" in text
