"""Limits a careful operator meets first: settings that contradict each other, requests no queue
state could admit, ids beyond their bound, HTTP bodies counted before they are parsed, and the
bearer scheme in any case."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
from typing import Any

import grpc
import pytest

from eduscore.client import EduScoreClient
from eduscore.config import Settings
from eduscore.scoring.scorer import Scorer
from eduscore.serving.app import App
from eduscore.serving.server import build_server
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .snippets import TEXTBOOK
from .test_http import call


def _req(code: str, id: str = "") -> pb.ScoreRequest:
    return pb.ScoreRequest(snippet=pb.Snippet(code=code, id=id))


async def _start(scorer: Scorer, **overrides: object) -> App:
    settings = Settings(host="127.0.0.1", metrics_port=-1, http_port=0, **overrides)
    app = build_server(settings, "127.0.0.1:0")
    await app.start(scorer=scorer)
    return app


# ---- settings that contradict each other -------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "both"),
    [
        ({"max_queue_size": 100}, ("--max-batch-snippets=1024", "--max-queue-size=100")),
        (
            {"max_queue_size": 100, "max_batch_snippets": 100},
            ("--max-stream-inflight=128", "--max-queue-size=100"),
        ),
        ({"max_queue_bytes": 999_999}, ("--max-snippet-bytes=1000000", "--max-queue-bytes=999999")),
        (
            {"max_message_bytes": 500_000},
            ("--max-snippet-bytes=1000000", "--max-message-bytes=500000"),
        ),
    ],
)
def test_contradicting_settings_name_both_flags(kwargs: dict[str, int], both: tuple[str]) -> None:
    with pytest.raises(ValueError) as err:
        Settings(**kwargs)
    assert all(flag in str(err.value) for flag in both), err.value


def test_serve_refuses_a_batch_larger_than_the_queue_at_start_up() -> None:
    """Exit 2 before any model is loaded, naming both flags (from flags and from env alike)."""
    argv = [sys.executable, "-m", "eduscore", "serve", "--port", "0", "--http-port", "-1"]
    flags = subprocess.run(
        [*argv, "--max-queue-size", "100", "--max-batch-snippets", "1024"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert flags.returncode == 2, flags.stderr
    assert "--max-batch-snippets=1024 exceeds --max-queue-size=100" in flags.stderr
    env = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={"EDUSCORE_MAX_QUEUE_SIZE": "100", "PATH": "/usr/bin:/bin"},
    )
    assert env.returncode == 2 and "--max-queue-size=100" in env.stderr, env.stderr


# ---- requests no queue state could admit -------------------------------------------------------


async def test_a_batch_over_the_queue_byte_budget_is_invalid_argument(scorer) -> None:
    """Its code exceeds all the queue ever holds: INVALID_ARGUMENT (do not retry), gRPC and HTTP
    alike, where retrying a RESOURCE_EXHAUSTED would go on forever."""
    app = await _start(scorer, max_queue_bytes=200_000, max_snippet_bytes=100_000, cache_size=0)
    codes = [f"# item {k}\n" + "value = [1, 2, 3]\n" * 5000 for k in range(3)]  # 3 x ~90 kB
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            req = pb.ScoreBatchRequest(snippets=[pb.Snippet(code=c) for c in codes])
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ScoreBatch(req, timeout=60)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
            assert "--max-queue-bytes=200000" in err.value.details()
            # Two of them fit, and are scored.
            req = pb.ScoreBatchRequest(snippets=[pb.Snippet(code=c) for c in codes[:2]])
            assert len((await stub.ScoreBatch(req, timeout=120)).results) == 2
        status, _, reply = await asyncio.to_thread(
            call,
            f"http://127.0.0.1:{app.http_port}",
            "POST",
            "/v1/score_batch",
            {"snippets": [{"code": c} for c in codes]},
        )
        assert (status, reply.get("code")) == (400, "INVALID_ARGUMENT"), reply
        assert "--max-queue-bytes=200000" in reply["message"]
    finally:
        await app.stop(1)


def test_model_info_reports_the_queue_limits(server) -> None:
    with EduScoreClient(server.address, timeout_s=30) as client:
        limits = client.model_info().limits
    assert (limits.max_queue_size, limits.max_queue_bytes) == (2048, 64 * 1024 * 1024)
    assert limits.max_id_bytes == 1024
    status, _, body = call(server.http_url, "GET", "/v1/model")
    assert status == 200
    # int64 in proto's JSON mapping: a string of digits (the OpenAPI document says so).
    assert body["limits"]["max_queue_bytes"] == str(64 * 1024 * 1024)
    assert body["limits"]["max_queue_size"] == 2048 and body["limits"]["max_id_bytes"] == 1024


# ---- ids ---------------------------------------------------------------------------------------

LONG_ID = "path/" * 205 + "tail-not-echoed"  # 1,025 + 15 bytes: over the default 1,024


def test_an_id_over_the_limit_is_invalid_argument_and_not_echoed(server, stub) -> None:
    assert len(LONG_ID.encode()) > 1024
    with pytest.raises(grpc.RpcError) as err:
        stub.Score(_req(TEXTBOOK, id=LONG_ID), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.value.details()
    assert "snippet.id" in details and "--max-id-bytes=1024" in details
    assert "tail-not-echoed" not in details and len(details) < 300
    stream = stub.ScoreStream(iter([_req(TEXTBOOK, id=LONG_ID)]), timeout=30)
    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "--max-id-bytes=1024" in err.value.details()
    assert "tail-not-echoed" not in err.value.details() and len(err.value.details()) < 400
    body = {"snippets": [{"code": TEXTBOOK, "id": "short"}, {"code": TEXTBOOK, "id": LONG_ID}]}
    status, _, reply = call(server.http_url, "POST", "/v1/score_batch", body)
    assert (status, reply.get("code")) == (400, "INVALID_ARGUMENT")
    assert "snippets[1].id" in reply["message"] and "tail-not-echoed" not in reply["message"]
    # At the limit, it is scored and echoed whole.
    at_limit = "i" * 1024
    assert stub.Score(_req(TEXTBOOK, id=at_limit), timeout=30).id == at_limit


# ---- the bearer scheme -------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
async def test_the_bearer_scheme_matches_in_any_case(secure, scheme: str) -> None:
    creds = grpc.ssl_channel_credentials(secure.ca)
    async with grpc.aio.secure_channel(secure.address, creds) as ch:
        stub = eduscore_pb2_grpc.EduScorerStub(ch)
        meta = (("authorization", f"{scheme} {secure.token}"),)
        assert (await stub.Score(_req(TEXTBOOK), timeout=60, metadata=meta)).score > 0
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Score(_req(TEXTBOOK), timeout=60, metadata=(("authorization", "Basic x"),))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    status, _, reply = await asyncio.to_thread(
        call,
        secure.https_url,
        "POST",
        "/v1/score",
        {"snippet": {"code": TEXTBOOK}},
        headers={"Authorization": f"{scheme} {secure.token}"},
        context=secure.ssl_context,
    )
    assert status == 200, reply


# ---- HTTP bodies are counted before they are parsed --------------------------------------------


async def _open_upload(port: int, declared: int, sent: bytes) -> asyncio.StreamWriter:
    """A POST that declares `declared` bytes of body and sends only `sent` of them, held open."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /v1/score_batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode() + sent)
    await writer.drain()
    return writer


def _post(port: int, body: bytes, *, chunked: bool = False) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if chunked:
            conn.request("POST", "/v1/score_batch", body=iter([body]), encode_chunked=True)
        else:
            conn.request("POST", "/v1/score_batch", body=body)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), json.loads(resp.read())
    finally:
        conn.close()


async def test_http_bodies_being_read_share_a_byte_budget(scorer) -> None:
    """Budget: the larger of --max-queue-bytes and --max-message-bytes (here 200 kB). A slow
    upload holds its declared size from its first byte; the next body that does not fit beside
    it is refused (429, Retry-After) before being read, and the budget comes back when the
    upload is abandoned."""
    app = await _start(
        scorer, max_queue_bytes=200_000, max_snippet_bytes=100_000, max_message_bytes=150_000
    )
    body = json.dumps({"snippets": [{"code": "x = 1\n" * 15_000}]}).encode()  # ~90 kB
    try:
        slow = await _open_upload(app.http_port, 140_000, b'{"snippets": [')
        await asyncio.sleep(0.5)  # its handler has started and holds 140 kB
        status, headers, reply = await asyncio.to_thread(_post, app.http_port, body)
        assert (status, reply.get("code")) == (429, "RESOURCE_EXHAUSTED"), reply
        assert "request bodies being read" in reply["message"] and "retry" in reply["message"]
        assert int(headers["Retry-After"]) >= 1
        slow.close()  # the client gives up: its handler is cancelled, its bytes released
        await slow.wait_closed()
        await asyncio.sleep(0.5)
        status, _, reply = await asyncio.to_thread(_post, app.http_port, body)
        assert status == 200, reply
        status, _, reply = await asyncio.to_thread(_post, app.http_port, body, chunked=True)
        assert status == 200, reply  # a chunked body, counted as it arrives
        big = json.dumps({"snippets": [{"code": "x = 1\n" * 30_000}]}).encode()  # ~180 kB
        status, _, reply = await asyncio.to_thread(_post, app.http_port, big, chunked=True)
        assert status == 413 and "--max-message-bytes=150000" in reply["message"], reply
    finally:
        await app.stop(1)


async def test_eduscore_score_sizes_its_batches_to_the_servers_limits(scorer, tmp_path) -> None:
    """A server whose queue holds 16 (so its batches do too): `eduscore score` reads
    ModelInfo.limits and sends 40 rows in batches it can admit."""
    app = await _start(
        scorer, max_queue_size=16, max_batch_snippets=16, max_stream_inflight=16, cache_size=0
    )
    rows = [{"id": str(i), "code": f"value_{i} = {i} * {i}\n"} for i in range(40)]
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "eduscore", "score", str(src)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "EDUSCORE_SERVER": f"127.0.0.1:{app.port}"},
        )
        assert out.returncode == 0, out.stderr
        assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == [
            str(i) for i in range(40)
        ]
    finally:
        await app.stop(1)
