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
)
from eduscore.v1 import eduscore_pb2 as pb

from .conftest import free_port
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
    assert got.score == pytest.approx(want.score, abs=1e-4)
    assert got.signals == pytest.approx(dict(want.signals), abs=1e-4)


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
    """The TLS + token server's queue holds 8: a batch of 9 is refused every time, so the
    client tries exactly `attempts` times (counted by the in-process server, which counts each
    refused snippet: 9 per attempt), then raises."""
    async with AsyncEduScoreClient(
        secure.address, root_certificates=secure.ca, token=secure.token, timeout_s=30
    ) as client:
        assert (await client.score(TEXTBOOK)).score > 0
        assert await client.healthy()
        refused = metrics.rejected.labels("overloaded")
        before = refused._value.get()
        policy = RetryPolicy(attempts=3, initial_backoff_s=0.05)
        client.retry = policy
        nine = [SnippetIn(code=f"w_{uuid.uuid4().hex} = {i}") for i in range(9)]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.score_batch(nine)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert refused._value.get() - before == 3 * len(nine)
    async with AsyncEduScoreClient(secure.address, root_certificates=secure.ca) as no_token:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await no_token.score("x = 1")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_old_import_path_still_works() -> None:
    from eduscore.serving import client as old

    assert old.EduScoreClient is EduScoreClient and old.SnippetIn is SnippetIn
