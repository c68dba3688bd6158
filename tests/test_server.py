"""End to end: the real server process, the real model, a real gRPC client."""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from eduscore.scoring.scorer import Snippet
from eduscore.v1 import eduscore_pb2 as pb

from .conftest import MODEL_DIR, shipped_encoder_name
from .snippets import CI_YAML, GENERATED, SETTINGS, SMALL, TEXTBOOK

TOL = 1e-6  # the style guide's oracle bound: scores are float32 in process and on the wire


def _req(code: str, id: str = "", threshold: float | None = None, language: str = "") -> Any:
    req = pb.ScoreRequest(snippet=pb.Snippet(id=id, code=code, language=language))
    if threshold is not None:
        req.threshold = threshold
    return req


def scrape(url: str) -> dict[str, float]:
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def scrape_until(url: str, ready: Callable[[dict[str, float]], bool]) -> dict[str, float]:
    """Scrape until `ready` holds (5 s at most). grpc.aio's `context.abort` sends the status
    before the interceptor's bookkeeping runs, so a client can see an error a moment before the
    counter moves; a scrape is never ordered with an RPC's end, and Prometheus does not need it."""
    deadline = time.monotonic() + 5
    while True:
        seen = scrape(url)
        if ready(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_health_is_serving(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "eduscore.v1.EduScorer"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_services(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for r in replies for s in r.list_services_response.service}
    assert {"eduscore.v1.EduScorer", "grpc.health.v1.Health"} <= names


def test_model_info_describes_model_and_data(stub) -> None:
    info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    assert info.embedding_model == shipped_encoder_name()
    assert info.embedding_dim == 384
    assert info.default_threshold == pytest.approx(3.0)
    assert (info.label_min, info.label_max) == (0.0, 5.0)
    # The served model says what it was trained on (whether that is today's corpus is
    # `eduscore evaluate`'s to say: test_training.py), so other work lands while it retrains.
    trained = json.loads((MODEL_DIR / "metadata.json").read_text())["training_data"]
    assert re.fullmatch(r"[0-9a-f]{64}", info.training_data_sha256)
    assert info.training_data_sha256 == trained["sha256"]
    assert info.training_data_size == trained["n_units"]
    for key in ("f1_keep", "precision_keep", "spearman", "mae"):
        assert 0.0 <= info.metrics[key] <= 5.0, key
    cv = json.loads((MODEL_DIR / "metadata.json").read_text())["cv"]
    assert info.metrics["python.f1_keep"] == pytest.approx(cv["per_format"]["python"]["f1_keep"])
    assert info.metrics["yaml.n_keep_true"] == cv["per_format"]["yaml"]["n_keep_true"] > 0
    assert "docstring_coverage" in info.signal_names
    assert info.limits.max_seq_length == 256 and info.limits.max_batch_snippets > 0


def test_served_scores_equal_in_process_scorer(stub, scorer) -> None:
    codes = [TEXTBOOK, SETTINGS, GENERATED, CI_YAML, *SMALL]
    expected = [r.score for r in scorer.score_batch([Snippet(code=c) for c in codes])]
    unary = [stub.Score(_req(c, id=str(i)), timeout=30).score for i, c in enumerate(codes)]
    batch = stub.ScoreBatch(
        pb.ScoreBatchRequest(snippets=[pb.Snippet(id=str(i), code=c) for i, c in enumerate(codes)]),
        timeout=30,
    ).results
    stream = list(
        stub.ScoreStream(iter([_req(c, id=str(i)) for i, c in enumerate(codes)]), timeout=60)
    )
    assert [r.id for r in batch] == [r.id for r in stream] == [str(i) for i in range(len(codes))]
    for exp, u, b, s in zip(expected, unary, batch, stream, strict=True):
        assert u == pytest.approx(exp, abs=TOL)
        assert b.score == pytest.approx(exp, abs=TOL)
        assert s.score == pytest.approx(exp, abs=TOL)


def test_textbook_function_beats_boilerplate(stub) -> None:
    scores = {
        name: stub.Score(_req(code), timeout=30).score
        for name, code in {
            "textbook": TEXTBOOK,
            "settings": SETTINGS,
            "generated": GENERATED,
            "ci": CI_YAML,
        }.items()
    }
    assert scores["textbook"] >= 3.0, scores
    assert scores["textbook"] > scores["settings"] + 1.0, scores
    assert scores["textbook"] > scores["generated"] + 1.0, scores
    assert scores["textbook"] > scores["ci"] + 1.0, scores
    assert scores["generated"] < 2.0 and scores["ci"] < 2.0, scores


def test_result_fields_and_threshold_override(stub) -> None:
    default = stub.Score(_req(TEXTBOOK, id="t"), timeout=30)
    assert default.id == "t" and default.threshold == pytest.approx(3.0)
    assert default.keep == (default.score >= 3.0)
    assert default.label == min(5, max(0, int(default.score + 0.5)))
    assert default.model_version and default.n_tokens > 50
    assert default.signals["docstring_coverage"] == pytest.approx(1.0)
    low = stub.Score(_req(SETTINGS, threshold=0.0), timeout=30)
    high = stub.Score(_req(TEXTBOOK, threshold=5.0), timeout=30)
    assert low.keep and low.threshold == 0.0
    assert high.threshold == 5.0 and high.keep == (high.score >= 5.0)
    batch = stub.ScoreBatch(
        pb.ScoreBatchRequest(snippets=[pb.Snippet(code=SETTINGS)], threshold=0.5), timeout=30
    )
    assert batch.results[0].threshold == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.Score(_req("   \n"), timeout=10), "snippet.code"),
        (lambda s: s.Score(_req("x = 1", threshold=7.5), timeout=10), "threshold"),
        (lambda s: s.Score(_req("x = 1", threshold=-1), timeout=10), "threshold"),
        (lambda s: s.Score(_req("a\x00b"), timeout=10), "NUL"),
        (lambda s: s.ScoreBatch(pb.ScoreBatchRequest(), timeout=10), "snippets"),
        (
            lambda s: s.ScoreBatch(
                pb.ScoreBatchRequest(snippets=[pb.Snippet(code="x"), pb.Snippet(code="")]),
                timeout=10,
            ),
            "snippets[1].code",
        ),
        (lambda s: s.Score(_req("x" * 1_000_001), timeout=10), "--max-snippet-bytes=1000000"),
    ],
)
def test_bad_input_is_invalid_argument(stub, channel, call, field) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(stub)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in err.value.details()
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_bad_item_in_stream_aborts_with_its_index(stub) -> None:
    reqs = [_req("def f():\n    return 1\n", id="ok"), _req("", id="empty")]
    responses = stub.ScoreStream(iter(reqs), timeout=30)
    first = next(responses)
    assert first.id == "ok"
    with pytest.raises(grpc.RpcError) as err:
        next(responses)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request[1] (id='empty')" in err.value.details()


def test_concurrent_clients_get_their_own_answers(stub, scorer) -> None:
    codes = [f"def f_{i}(x):\n    return x * {i} + {i * 7}\n" for i in range(48)]
    expected = {
        str(i): r.score for i, r in enumerate(scorer.score_batch([Snippet(code=c) for c in codes]))
    }

    def call(i: int) -> tuple[str, float]:
        res = stub.Score(_req(codes[i], id=str(i)), timeout=60)
        return res.id, res.score

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(len(codes))))
    assert [a[0] for a in answers] == [str(i) for i in range(len(codes))]
    for rid, score in answers:
        assert score == pytest.approx(expected[rid], abs=TOL)


def test_metrics_count_calls(stub, server) -> None:
    """Each counter moves by exactly what this test's own calls cause (the server is shared by
    the session, so only deltas say anything)."""
    info = (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="GetModelInfo",'
        'grpc_service="eduscore.v1.EduScorer",grpc_type="unary"}'
    )
    bad = (
        'grpc_server_handled_total{grpc_code="INVALID_ARGUMENT",grpc_method="Score",'
        'grpc_service="eduscore.v1.EduScorer",grpc_type="unary"}'
    )
    decided = (
        'eduscore_decisions_total{decision="drop"}',
        'eduscore_decisions_total{decision="keep"}',
    )
    before = scrape(server.metrics_url)
    stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
    # A snippet no other test sends, so it cannot be a cache hit.
    stub.Score(_req(f"def g():\n    return '{uuid.uuid4().hex}'\n"), timeout=30)
    with pytest.raises(grpc.RpcError):
        stub.Score(_req(""), timeout=10)
    want = {
        info: 1,
        bad: 1,
        "eduscore_snippets_scored_total": 1,
        'eduscore_rejected_total{reason="invalid"}': 1,
        "eduscore_cache_misses_total": 1,
    }

    def moved(m: dict[str, float]) -> dict[str, float]:
        out = {k: m.get(k, 0.0) - before.get(k, 0.0) for k in want}
        out["decisions"] = sum(m.get(k, 0.0) - before.get(k, 0.0) for k in decided)
        return out

    after = scrape_until(server.metrics_url, lambda m: moved(m) == {**want, "decisions": 1})
    assert moved(after) == {**want, "decisions": 1}
    assert any(k.startswith("eduscore_model_info{") for k in after)
    assert after["eduscore_ready"] == 1.0
    assert (
        'grpc_server_handling_seconds_count{grpc_method="Score",'
        'grpc_service="eduscore.v1.EduScorer",grpc_type="unary"}' in after
    )
    assert any(k.startswith("process_resident_memory_bytes") for k in after)


def test_repeated_snippet_hits_cache(stub, server) -> None:
    code = "def cached_twice(n: int) -> int:\n    return n + 1\n"
    first = stub.Score(_req(code, id="a"), timeout=30)
    before = scrape(server.metrics_url)["eduscore_cache_hits_total"]
    second = stub.Score(_req(code, id="b"), timeout=30)
    assert scrape(server.metrics_url)["eduscore_cache_hits_total"] == before + 1
    assert second.id == "b" and second.score == first.score
