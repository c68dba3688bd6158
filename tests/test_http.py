"""The HTTP/JSON API: the session server's --http-port, a real HTTP client, the real model."""

from __future__ import annotations

import http.client
import json
import ssl
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import grpc
import numpy as np
import pytest
import schemathesis
from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as st_checks

from eduscore.config import Settings
from eduscore.serving import http_api, openapi
from eduscore.serving.app import App
from eduscore.serving.server import build_server
from eduscore.v1 import eduscore_pb2 as pb

from .snippets import CI_YAML, GENERATED, SETTINGS, SMALL, TEXTBOOK

# JSON prints a float32 in its shortest form (within half a float32 step of it, < 3e-7 below 5);
# gRPC hands over the float32 itself.
TOL = 1e-6


def _f32(signals: Mapping[str, float]) -> dict[str, np.float32]:
    return {k: np.float32(v) for k, v in signals.items()}


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request with http.client; returns (status, headers, parsed JSON body)."""
    url = urlsplit(base)
    if url.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            url.hostname, url.port, timeout=60, context=context
        )
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    try:
        conn.request(
            method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, dict(resp.getheaders()), json.loads(payload) if payload else None
    finally:
        conn.close()


def grpc_json(message: Any) -> dict[str, Any]:
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


# ---- against the session server --------------------------------------------------------------


def test_scores_over_http_equal_grpc_scores(server, stub) -> None:
    codes = [TEXTBOOK, SETTINGS, GENERATED, CI_YAML, *SMALL]
    expected = [
        stub.Score(pb.ScoreRequest(snippet=pb.Snippet(id=str(i), code=c)), timeout=30)
        for i, c in enumerate(codes)
    ]
    unary = []
    for i, code in enumerate(codes):
        status, _, body = call(
            server.http_url, "POST", "/v1/score", {"snippet": {"id": str(i), "code": code}}
        )
        assert status == 200, body
        unary.append(body)
    status, _, batch = call(
        server.http_url,
        "POST",
        "/v1/score_batch",
        {"snippets": [{"id": str(i), "code": c} for i, c in enumerate(codes)]},
    )
    assert status == 200, batch
    assert [r["id"] for r in batch["results"]] == [str(i) for i in range(len(codes))]
    for exp, u, b in zip(expected, unary, batch["results"], strict=True):
        want = grpc_json(exp)
        assert set(u) == set(want) == set(b)  # the proto's names: model_version, n_tokens, ...
        for got in (u, b):
            assert got["score"] == pytest.approx(exp.score, abs=TOL)
            assert (got["keep"], got["label"], got["n_tokens"]) == (
                exp.keep,
                exp.label,
                exp.n_tokens,
            )
            assert got["model_version"] == exp.model_version and got["language"] == exp.language
            # Signals go out as float32 (proto `float`): compare them as float32, exactly.
            assert _f32(got["signals"]) == _f32(exp.signals)


def test_threshold_and_language_pass_through(server) -> None:
    status, _, body = call(
        server.http_url,
        "POST",
        "/v1/score",
        {"snippet": {"code": SETTINGS, "language": "python"}, "threshold": 0.0},
    )
    assert status == 200 and body["keep"] is True and body["threshold"] == 0.0
    assert body["language"] == "python"


def test_model_info_and_health(server, stub) -> None:
    status, _, body = call(server.http_url, "GET", "/v1/model")
    assert status == 200
    assert body == grpc_json(stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10))
    assert body["limits"]["max_message_bytes"] == 16 * 1024 * 1024
    assert call(server.http_url, "GET", "/healthz")[::2] == (200, {"status": "SERVING"})


def _grpc_details(stub, request: Any) -> str:
    method = stub.Score if isinstance(request, pb.ScoreRequest) else stub.ScoreBatch
    with pytest.raises(grpc.RpcError) as err:
        method(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return err.value.details()


@pytest.mark.parametrize(
    ("path", "body", "request_pb"),
    [
        ("/v1/score", {"snippet": {"code": "  \n"}}, pb.ScoreRequest(snippet=pb.Snippet(code=" "))),
        (
            "/v1/score",
            {"snippet": {"code": "a\x00b"}},
            pb.ScoreRequest(snippet=pb.Snippet(code="a\x00b")),
        ),
        (
            "/v1/score",
            {"snippet": {"code": "x = 1"}, "threshold": 7.5},
            pb.ScoreRequest(snippet=pb.Snippet(code="x = 1"), threshold=7.5),
        ),
        ("/v1/score_batch", {"snippets": []}, pb.ScoreBatchRequest()),
        (
            "/v1/score_batch",
            {"snippets": [{"code": "x"}, {"code": ""}]},
            pb.ScoreBatchRequest(snippets=[pb.Snippet(code="x"), pb.Snippet(code="")]),
        ),
    ],
)
def test_bad_values_are_400_with_the_grpc_message(server, stub, path, body, request_pb) -> None:
    status, _, reply = call(server.http_url, "POST", path, body)
    assert status == 400
    assert reply == {"code": "INVALID_ARGUMENT", "message": _grpc_details(stub, request_pb)}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b'{"snippet": {"code": "x"', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"snippet": {"code": 5}}', "code"),
        (b'{"snippet": "def f(): pass"}', "snippet: must be an object"),
        (b'{"snippet": {"code": "x"}, "threshold": "high"}', "threshold"),
        (b'{"snippet": {"code": "x"}, "threshold": true}', "threshold: must be a number"),
        (b'{"snippet": {"code": "x", "lang": "py"}}', 'no field named "lang"'),
        (b'{"snippet": {"code": "\\ud800"}}', "Unpaired surrogate"),
    ],
)
def test_malformed_bodies_are_400(server, raw, needle) -> None:
    status, _, reply = call(server.http_url, "POST", "/v1/score", raw=raw)
    assert status == 400 and reply["code"] == "INVALID_ARGUMENT", reply
    assert needle in reply["message"]
    assert call(server.http_url, "GET", "/healthz")[0] == 200


def test_body_over_max_message_bytes_is_413(server) -> None:
    # Refused from Content-Length alone, before 17 MiB are read.
    url = urlsplit(server.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest("POST", "/v1/score")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(17 * 1024 * 1024))
        conn.endheaders()
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 413
    assert (
        body["code"] == "RESOURCE_EXHAUSTED" and "--max-message-bytes=16777216" in body["message"]
    )


def test_passed_deadline_is_504(server) -> None:
    snippets = [{"code": f"x_{uuid.uuid4().hex} = {i}"} for i in range(64)]
    status, _, reply = call(
        server.http_url,
        "POST",
        "/v1/score_batch",
        {"snippets": snippets},
        headers={"Grpc-Timeout": "1m"},
    )
    assert status == 504 and reply["code"] == "DEADLINE_EXCEEDED", reply
    bad = call(
        server.http_url,
        "POST",
        "/v1/score",
        {"snippet": {"code": "x"}},
        headers={"Grpc-Timeout": "soon"},
    )
    assert bad[0] == 400 and "Grpc-Timeout" in bad[2]["message"]


def test_unknown_path_and_method(server) -> None:
    status, _, reply = call(server.http_url, "GET", "/v2/nothing")
    assert status == 404 and reply["code"] == "NOT_FOUND"
    status, headers, reply = call(server.http_url, "GET", "/v1/score")
    assert status == 405 and "POST" in headers["Allow"] and reply["code"] == "UNIMPLEMENTED"


def test_unknown_errors_hide_their_text() -> None:
    err = http_api._error_of(RuntimeError("secret path /etc/x"))
    assert err.status == 500 and err.code == grpc.StatusCode.INTERNAL
    assert "secret" not in err.message and "request id" in err.message


def test_requests_are_counted_by_route_and_code(server) -> None:
    from .test_server import scrape, scrape_until

    ok = 'http_requests_total{code="200",method="GET",path="/v1/model"}'
    bad = 'http_requests_total{code="400",method="POST",path="/v1/score"}'
    before = scrape(server.metrics_url)
    call(server.http_url, "GET", "/v1/model")
    call(server.http_url, "POST", "/v1/score", {"snippet": {"code": ""}})
    after = scrape_until(server.metrics_url, lambda m: m.get(bad, 0) >= before.get(bad, 0) + 1)
    assert after[ok] == before[ok] + 1
    assert after[bad] == before.get(bad, 0) + 1
    key = 'http_request_duration_seconds_count{method="GET",path="/v1/model"}'
    assert after[key] >= before[key] + 1


# ---- schemathesis: the document against the running server ------------------------------------


# schemathesis' pytest plugin does not run under pytest 9, so the operations are parametrized by
# hand and each one's hypothesis strategy is driven directly.
OPERATIONS = [
    (method.upper(), path) for path, ops in openapi.DOCUMENT["paths"].items() for method in ops
]
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.response_headers_conformance,
]


@pytest.fixture(scope="session")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server.http_url}/openapi.json")


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_conforms_to_its_openapi_document(api_schema, server, method, path) -> None:
    """No 5xx; every status, header and body is one the document declares (30 cases each)."""
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        # A fuzzed deadline of nanoseconds makes a 504 that is the caller's doing (tested above).
        (case.headers or {}).pop("Grpc-Timeout", None)
        case.call_and_validate(base_url=server.http_url, checks=CHECKS, timeout=60)

    check()


# ---- the session's in-process server with a token, TLS and a tiny queue (conftest.secure) ------


async def _async_call(*args: Any, **kw: Any) -> tuple[int, dict[str, str], Any]:
    import asyncio

    return await asyncio.to_thread(call, *args, **kw)


async def test_https_with_token(secure) -> None:
    base, ctx = secure.https_url, secure.ssl_context
    auth = {"Authorization": f"Bearer {secure.token}"}
    body = {"snippet": {"code": TEXTBOOK}}
    status, _, reply = await _async_call(base, "POST", "/v1/score", body, headers=auth, context=ctx)
    assert status == 200 and reply["score"] > 0
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        status, hdrs, reply = await _async_call(
            base, "POST", "/v1/score", body, headers=headers, context=ctx
        )
        assert status == 401 and reply["code"] == "UNAUTHENTICATED"
        assert "Authorization: Bearer" in reply["message"] and hdrs["WWW-Authenticate"] == "Bearer"
    # Probes and the document need no token.
    assert (await _async_call(base, "GET", "/healthz", context=ctx))[0] == 200
    assert (await _async_call(base, "GET", "/openapi.json", context=ctx))[0] == 200
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        await _async_call(f"http://127.0.0.1:{secure.app.http_port}", "GET", "/healthz")


async def test_full_queue_is_429_with_retry_after(secure) -> None:
    """Batches of 8 sent at once to a queue of 8 (model calls of 4): some find it full."""
    import asyncio

    def batch() -> tuple[int, dict[str, str], Any]:
        snippets = [{"code": f"y_{uuid.uuid4().hex} = {i}"} for i in range(8)]
        return call(
            secure.https_url,
            "POST",
            "/v1/score_batch",
            {"snippets": snippets},
            headers={"Authorization": f"Bearer {secure.token}"},
            context=secure.ssl_context,
        )

    answers = await asyncio.gather(*(asyncio.to_thread(batch) for _ in range(4)))
    refused = [(headers, reply) for status, headers, reply in answers if status == 429]
    assert refused and all(status in (200, 429) for status, _, _ in answers), answers
    for headers, reply in refused:
        assert reply["code"] == "RESOURCE_EXHAUSTED" and "--max-queue-size=8" in reply["message"]
        assert int(headers["Retry-After"]) >= 1


async def test_loading_server_is_503() -> None:
    """Before the model is loaded (what a starting server does): health and scoring say 503."""
    app: App = build_server(Settings(host="127.0.0.1", http_port=0, metrics_port=-1), "127.0.0.1:0")
    runner, port = await http_api.start(app)
    try:
        base = f"http://127.0.0.1:{port}"
        assert (await _async_call(base, "GET", "/healthz"))[::2] == (503, {"status": "NOT_SERVING"})
        status, _, reply = await _async_call(base, "POST", "/v1/score", {"snippet": {"code": "x"}})
        assert status == 503 and reply == {
            "code": "UNAVAILABLE",
            "message": "the model is still loading; retry shortly",
        }
        assert (await _async_call(base, "GET", "/v1/model"))[0] == 503
    finally:
        await http_api.stop(runner)
