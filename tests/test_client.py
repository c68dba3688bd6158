"""eduscore.client against real servers: the session server, and the session's TLS + token one."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict

import grpc
import pytest

from eduscore import metrics
from eduscore.client import (
    NO_RETRY,
    AsyncEduScoreClient,
    EduScoreClient,
    ModelInfo,
    RetryPolicy,
    ScoreResult,
    SnippetIn,
    TierInfo,
)
from eduscore.v1 import eduscore_pb2 as pb

from .conftest import MODEL_DIR, free_port
from .snippets import SETTINGS, SMALL, TEXTBOOK

CODES = [TEXTBOOK, SETTINGS, *SMALL]


def _expected(stub) -> list[pb.ScoreResult]:
    return [
        stub.Score(pb.ScoreRequest(snippet=pb.Snippet(id=str(i), code=c)), timeout=30)
        for i, c in enumerate(CODES)
    ]


def _same(got: ScoreResult, want: pb.ScoreResult) -> None:
    assert isinstance(got, ScoreResult)
    assert (got.id, got.keep, got.label, got.n_tokens, got.language) == (
        want.id,
        want.keep,
        want.label,
        want.n_tokens,
        want.language,
    )
    assert got.score == want.score and got.signals == dict(want.signals)  # the same message


def test_sync_client_returns_typed_results(server, stub) -> None:
    expected = _expected(stub)
    snippets = [SnippetIn(code=c, id=str(i)) for i, c in enumerate(CODES)]
    with EduScoreClient(server.address) as client:
        assert client.healthy()
        for i, want in enumerate(expected):
            _same(client.score(CODES[i], id=str(i)), want)
        for got, want in zip(client.score_batch(snippets), expected, strict=True):
            _same(got, want)
        for got, want in zip(client.score_stream(iter(snippets)), expected, strict=True):
            _same(got, want)
        low = client.score(SETTINGS, threshold=0.0)
        assert low.keep and low.threshold == 0.0
        info = client.model_info()
    assert isinstance(info, ModelInfo) and info.embedding_dim == 384
    assert info.limits.max_batch_snippets == 1024 and "docstring_coverage" in info.signal_names
    assert asdict(info)["limits"]["max_seq_length"] == 256  # plain data all the way down


def test_a_dead_address_is_skipped_by_retrying_the_next(server) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with EduScoreClient([dead, server.address], timeout_s=30) as client:
        client.wait_ready(timeout_s=30)
        for i in range(4):  # round-robin: every other call first tries the dead one
            assert client.score(f"def f{i}():\n    return {i}\n").score > 0
    with EduScoreClient([dead], timeout_s=5, retry=NO_RETRY) as client:
        assert not client.healthy()
        with pytest.raises(grpc.RpcError) as err:
            client.score("x = 1")
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.FutureTimeoutError):
            client.wait_ready(timeout_s=0.5)


def test_deadline_applies_and_is_not_retried(server) -> None:
    snippets = [SnippetIn(code=f"z_{uuid.uuid4().hex} = {i}") for i in range(64)]
    with EduScoreClient(server.address, timeout_s=0.01) as client:
        assert client.score("x = 1", timeout_s=30).score >= 0  # a per-call override
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            client.score_batch(snippets)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 5


def test_invalid_argument_is_raised_at_once(server) -> None:
    with EduScoreClient(server.address) as client, pytest.raises(grpc.RpcError) as err:
        client.score("   ")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "snippet.code" in err.value.details()


async def test_async_client_matches_the_sync_one(server, stub) -> None:
    expected = _expected(stub)
    snippets = [SnippetIn(code=c, id=str(i)) for i, c in enumerate(CODES)]

    async def produce():
        for s in snippets:
            yield s

    async with AsyncEduScoreClient([server.address, server.address]) as client:
        await client.wait_ready(timeout_s=30)
        assert await client.healthy()
        _same(await client.score(CODES[0], id="0"), expected[0])
        for got, want in zip(await client.score_batch(snippets), expected, strict=True):
            _same(got, want)
        streamed = [r async for r in client.score_stream(produce())]
        for got, want in zip(streamed, expected, strict=True):
            _same(got, want)
        assert [r.id async for r in client.score_stream(snippets[:2])] == ["0", "1"]
        assert (await client.model_info()).limits.max_seq_length == 256


async def test_tls_token_and_retries_on_overload(secure) -> None:
    """The TLS + token server's queue holds 8. A batch of 9 could never be queued: refused as
    invalid at once and not retried. Batches of 4 sent together find the queue full, and the
    client retries them (counted by the in-process server) until every one is answered."""
    import asyncio

    async with AsyncEduScoreClient(
        secure.address, root_certificates=secure.ca, token=secure.token, timeout_s=60
    ) as client:
        assert (await client.score(TEXTBOOK)).score > 0
        assert await client.healthy()
        refused, invalid = metrics.rejected.labels("overloaded"), metrics.rejected.labels("invalid")
        before, invalid_before = refused._value.get(), invalid._value.get()
        nine = [SnippetIn(code=f"w_{uuid.uuid4().hex} = {i}") for i in range(9)]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.score_batch(nine)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "--max-batch-snippets=8" in err.value.details()
        assert invalid._value.get() - invalid_before == len(nine)  # one attempt only
        client.retry = RetryPolicy(attempts=200, initial_backoff_s=0.05, max_backoff_s=0.5)
        batches = [
            [SnippetIn(code=f"w_{uuid.uuid4().hex} = {i}") for i in range(4)] for _ in range(4)
        ]
        answers = await asyncio.gather(*(client.score_batch(b) for b in batches))
        assert [len(a) for a in answers] == [4] * len(batches)
        assert refused._value.get() > before, "the queue never filled: the test is moot"
    async with AsyncEduScoreClient(secure.address, root_certificates=secure.ca) as no_token:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await no_token.score("x = 1")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_old_import_path_still_works() -> None:
    from eduscore.serving import client as old

    assert old.EduScoreClient is EduScoreClient and old.SnippetIn is SnippetIn


HAS_FAST = (MODEL_DIR / "fast" / "metadata.json").exists()
needs_fast = pytest.mark.skipif(
    not HAS_FAST, reason="the shipped model has no fast tier (models/current/fast/) yet"
)


def test_the_tier_is_sent_and_each_result_says_which_decided(server) -> None:
    with EduScoreClient(server.address) as client:
        assert client.score(TEXTBOOK, tier="full").tier == "full"
        assert client.score(TEXTBOOK).tier == "full"  # the session server's default
        batch = client.score_batch([SnippetIn(c) for c in CODES[:3]], tier="full")
        assert [r.tier for r in batch] == ["full"] * 3
        streamed = client.score_stream(iter([SnippetIn(c) for c in CODES[:2]]), tier="full")
        assert [r.tier for r in streamed] == ["full"] * 2
        info = client.model_info()
        with pytest.raises(grpc.RpcError) as err:
            client.score_batch([SnippetIn(TEXTBOOK)], tier="turbo")
    assert info.default_tier == "full" and "full" in info.tiers
    full = info.tiers["full"]
    assert isinstance(full, TierInfo) and full.embedding_dim == info.embedding_dim
    assert full.max_seq_length == info.limits.max_seq_length and "f1_keep" in full.metrics
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'turbo' is not a tier" in err.value.details()
    assert all(name in err.value.details() for name in ("full", "fast", "cascade"))


async def test_async_client_sends_the_tier(server) -> None:
    async with AsyncEduScoreClient(server.address) as client:
        assert (await client.score(SETTINGS, tier="full")).tier == "full"
        batch = await client.score_batch([SnippetIn(TEXTBOOK)], tier="full")
        assert batch[0].tier == "full"
        assert [r.tier async for r in client.score_stream([SnippetIn(TEXTBOOK)], tier="full")] == [
            "full"
        ]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.score(TEXTBOOK, tier="turbo")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "full, fast, cascade" in err.value.details()


@needs_fast
async def test_fast_and_cascade_through_both_clients(server) -> None:
    snippets = [SnippetIn(code=c, id=str(i)) for i, c in enumerate(CODES)]
    async with AsyncEduScoreClient(server.address) as client:
        fast = await client.score_batch(snippets, tier="fast")
        cascade = await client.score_batch(snippets, tier="cascade")
        full = await client.score_batch(snippets, tier="full")
        streamed = [r async for r in client.score_stream(snippets, tier="fast")]
        info = await client.model_info()
    assert {r.tier for r in fast} == {"fast"}
    assert {r.tier for r in cascade} <= {"fast", "full"}
    for c, f, g in zip(cascade, fast, full, strict=True):  # a cascade answers with one of them
        assert c.score == (f.score if c.tier == "fast" else g.score)
    assert [r.score for r in streamed] == pytest.approx([r.score for r in fast], abs=1e-6)
    assert {"full", "fast", "cascade"} <= set(info.tiers)
    band = info.tiers["cascade"]
    assert band.band_lo < band.band_hi and 0.0 <= band.escalated_share <= 1.0
    assert info.tiers["fast"].embedding_model != info.tiers["full"].embedding_model
    with EduScoreClient(server.address) as sync:  # the blocking client too
        assert sync.score(TEXTBOOK, tier="fast").score == pytest.approx(fast[0].score, abs=1e-6)
