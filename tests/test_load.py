"""A short overload run (the long one is `python -m bench.load`): nothing lost, all explicit."""

from __future__ import annotations

from pathlib import Path

from bench.load import Traffic, pool, run
from eduscore.v1 import eduscore_pb2 as pb

from .test_tiers import needs_fast

POOLED = (
    *("--tier", "fast", "--workers", "2", "--max-queue-size", "64", "--cache-size", "0"),
    *("--max-batch-snippets", "64", "--max-stream-inflight", "64"),
)


def overload(tmp: Path, server_args: tuple[str, ...]) -> dict:
    """12 s above capacity (24 unary, 3 batch and 3 stream clients) against one server."""
    return run(seconds=12, unary=24, batchers=3, streamers=3, tmp=tmp, server_args=server_args)


def test_short_overload_run(tmp_path: Path) -> None:
    report = overload(
        tmp_path,
        (
            *("--max-queue-size", "64", "--max-batch-snippets", "64"),
            *("--max-stream-inflight", "64", "--cache-size", "0"),
        ),
    )
    assert report["mismatched"] == 0, report
    assert report["unexplained_errors"] == {}, report
    assert report["outcomes"].get("RESOURCE_EXHAUSTED", 0) > 0, "the run never hit capacity"
    assert report["items_scored"] > 100, report
    assert report["healthy_after"] and report["answers_after"]


@needs_fast
def test_short_overload_run_through_the_worker_pool(tmp_path: Path) -> None:
    """The same checks against a fast server whose two worker processes score every snippet:
    no answer crossed between processes, lost, or refused without saying why."""
    report = overload(tmp_path, POOLED)
    assert report["mismatched"] == 0, report
    assert report["unexplained_errors"] == {}, report
    assert report["items_scored"] > 100, report
    assert report["healthy_after"] and report["answers_after"]


def test_a_crossed_result_counts_as_mismatched() -> None:
    """The check the run relies on: another snippet's answer, even under the right id, is wrong."""
    codes = pool(3)
    alone = [pb.ScoreResult(score=1.0 + i, n_tokens=10 + i) for i in range(3)]
    traffic = Traffic(codes, alone)
    sent = traffic.snippet()
    i = int(sent.id.rpartition(":")[2])
    own = pb.ScoreResult(id=sent.id, score=alone[i].score + 5e-5, n_tokens=alone[i].n_tokens)
    other = alone[(i + 1) % 3]
    assert not traffic.wrong(sent, own)
    assert traffic.wrong(
        sent, pb.ScoreResult(id=sent.id, score=other.score, n_tokens=other.n_tokens)
    )
    assert traffic.wrong(sent, pb.ScoreResult(id=sent.id, score=own.score, n_tokens=other.n_tokens))
    assert traffic.wrong(sent, pb.ScoreResult(id="x", score=own.score, n_tokens=own.n_tokens))
