"""A short overload run (the long one is `python -m bench.load`): nothing lost, all explicit."""

from __future__ import annotations

from pathlib import Path

from bench.load import run


def test_short_overload_run(tmp_path: Path) -> None:
    report = run(
        seconds=12,
        unary=24,
        batchers=3,
        streamers=3,
        tmp=tmp_path,
        server_args=("--max-queue-size", "64"),
    )
    assert report["mismatched"] == 0, report
    assert report["unexplained_errors"] == {}, report
    assert report["outcomes"].get("RESOURCE_EXHAUSTED", 0) > 0, "the run never hit capacity"
    assert report["items_scored"] > 100, report
    assert report["healthy_after"] and report["answers_after"]
