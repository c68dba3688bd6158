"""What an in-process server admits and refuses under load: the byte budget, deadlines in the
queue and in streams, readiness during start-up, and what an internal error tells the client."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eduscore import metrics
from eduscore.config import Settings
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.serving.app import App
from eduscore.serving.server import build_server
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

TOL = 1e-6  # the style guide's oracle bound: scores are float32 in process and on the wire
SERVING = health_pb2.HealthCheckResponse.SERVING


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def _code(i: int, lines: int = 10) -> str:
    body = "".join(f"    acc = acc * {i % 97 + 2} + {k}\n" for k in range(lines))
    return f"def accumulate_{i}(acc: int) -> int:\n{body}    return acc\n"


async def _start(scorer: Scorer | None, **overrides: object) -> App:
    app = build_server(Settings(metrics_port=-1, **overrides), "127.0.0.1:0")
    await app.start(scorer=scorer)
    return app


async def _serving(stub: health_pb2_grpc.HealthStub) -> bool:
    return (await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)).status == SERVING


async def test_byte_budget_refuses_big_batches_by_name_and_stays_healthy(scorer) -> None:
    app = await _start(
        scorer, max_queue_bytes=200_000, max_snippet_bytes=100_000, cache_size=0, max_batch_size=4
    )
    refused_before = _sample("eduscore_rejected_total", reason="overloaded")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)

            async def big_batch(b: int) -> str:
                # 3 x ~50 kB: one batch fits the 200 kB budget, two do not.
                code = [f"# batch {b} item {k}\n" + "value = [1, 2, 3]\n" * 2800 for k in range(3)]
                req = pb.ScoreBatchRequest(snippets=[pb.Snippet(code=c) for c in code])
                try:
                    await stub.ScoreBatch(req, timeout=120)
                    return "OK"
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc.details()
                    assert "--max-queue-bytes=200000" in exc.details(), exc.details()
                    return exc.code().name

            outcomes = await asyncio.gather(*(big_batch(b) for b in range(6)))
            assert "OK" in outcomes and "RESOURCE_EXHAUSTED" in outcomes, outcomes
            refused = outcomes.count("RESOURCE_EXHAUSTED")
            # Counted once per queued item, by the batcher only: each ~50 kB input is a whole
            # file, queued as its units.
            code = "# batch 0 item 0\n" + "value = [1, 2, 3]\n" * 2800
            per_file = len(scorer.plan(Snippet(code=code)).units)
            assert per_file > 1
            assert _sample("eduscore_rejected_total", reason="overloaded") == refused_before + (
                3 * per_file * refused
            )
            assert _sample("eduscore_queue_bytes") == 0
            assert await _serving(health_pb2_grpc.HealthStub(ch))
            after = await stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=_code(1))), timeout=60)
            alone = scorer.score_batch([Snippet(code=_code(1))])[0]
            assert after.score == pytest.approx(alone.score, abs=TOL)
    finally:
        await app.stop(1)


async def test_stream_ends_at_once_when_the_queue_wait_exceeds_its_deadline(scorer) -> None:
    app = await _start(scorer, cache_size=0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            warm = [pb.Snippet(code=_code(i)) for i in range(16)]  # measures the rate
            await stub.ScoreBatch(pb.ScoreBatchRequest(snippets=warm), timeout=60)
            flood = [pb.Snippet(code=_code(1000 + i)) for i in range(1000)]
            busy = asyncio.ensure_future(
                stub.ScoreBatch(pb.ScoreBatchRequest(snippets=flood), timeout=300)
            )
            while app.batcher.depth < 900:
                await asyncio.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                reqs = [pb.ScoreRequest(snippet=pb.Snippet(code=_code(5000)))]
                async for _ in stub.ScoreStream(iter(reqs), timeout=3):
                    pass
            elapsed = time.monotonic() - started
            busy.cancel()  # the queued rest is skipped, not computed
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.value.details()
            assert "exceeds the call's deadline" in err.value.details()
            assert elapsed < 1.5, f"refused after {elapsed:.1f} s, not at once"
    finally:
        await app.stop(1)


async def test_deadline_expiring_in_the_queue_reaches_the_server(scorer) -> None:
    app = await _start(scorer, cache_size=0, max_batch_size=16)
    method = ("unary", "eduscore.v1.EduScorer", "Score")
    labels = dict(zip(("grpc_type", "grpc_service", "grpc_method"), method, strict=True))
    started_before = _sample("grpc_server_started_total", **labels)
    dropped_before = sum(
        _sample("eduscore_rejected_total", reason=r) for r in ("deadline", "cancelled")
    )
    scored_before = _sample("eduscore_snippets_scored_total")
    misses_before = _sample("eduscore_cache_misses_total")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            busy_req = pb.ScoreBatchRequest(
                snippets=[pb.Snippet(code=_code(i, 30)) for i in range(16)]
            )
            busy = asyncio.ensure_future(stub.ScoreBatch(busy_req, timeout=120))
            while _sample("eduscore_cache_misses_total") < misses_before + 16 or app.batcher.depth:
                await asyncio.sleep(0.005)  # until the worker took the whole batch
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=_code(99))), timeout=0.3)
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            await busy
        dropped = dropped_before
        for _ in range(500):  # the worker reaches the item right after the busy batch
            dropped = sum(
                _sample("eduscore_rejected_total", reason=r) for r in ("deadline", "cancelled")
            )
            if dropped > dropped_before:
                break
            await asyncio.sleep(0.01)
        # The call reached the server, waited in its queue and was dropped there, uncomputed.
        assert _sample("grpc_server_started_total", **labels) == started_before + 1
        assert dropped == dropped_before + 1
        assert _sample("eduscore_snippets_scored_total") == scored_before + 16
    finally:
        await app.stop(1)


async def test_not_serving_until_the_model_is_loaded_in_process() -> None:
    """App.start from scratch (the model loaded from disk): health polled all along."""
    app = build_server(Settings(metrics_port=-1, cache_size=0), "127.0.0.1:0")
    starting = asyncio.ensure_future(app.start())
    seen: list[int] = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            while True:
                try:
                    status = (await health.Check(health_pb2.HealthCheckRequest(), timeout=5)).status
                except grpc.aio.AioRpcError:
                    status = -1  # not listening yet
                seen.append(status)
                if status == SERVING:
                    assert app.batcher is not None, "SERVING before the model was ready"
                    break
                assert not starting.done() or starting.exception() is None
                await asyncio.sleep(0.01)
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            await stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code="x = 1")), timeout=30)
        await starting
        assert health_pb2.HealthCheckResponse.NOT_SERVING in seen  # polled during the load
    finally:
        await app.stop(1)


class _Failing(Scorer):
    """The real scorer, whose model call fails with a message that must stay server-side."""

    def __init__(self, inner: Scorer) -> None:
        self.__dict__.update(inner.__dict__)

    def score_units(self, snippets, threshold=None):
        if any("explode" in s.code for s in snippets):
            raise RuntimeError("secret detail: /srv/private/key.pem")
        return super().score_units(snippets, threshold)


async def test_internal_error_hides_its_text_and_fails_only_its_call(scorer) -> None:
    app = await _start(_Failing(scorer), cache_size=0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code="explode()")), timeout=30)
            assert err.value.code() == grpc.StatusCode.INTERNAL
            assert err.value.details().startswith("internal error (request id ")
            assert "secret" not in err.value.details() and "RuntimeError" not in err.value.details()
            ok = await stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code="y = 2")), timeout=30)
            assert ok.score == pytest.approx(
                scorer.score_batch([Snippet(code="y = 2")])[0].score, abs=TOL
            )
    finally:
        await app.stop(1)
