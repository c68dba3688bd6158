"""The HTTP/JSON API: the unary RPCs as JSON over HTTP, beside gRPC on the same event loop.

Same batcher, model, limits, token and TLS as gRPC (servicer.score_one & co.). Bodies use the
proto's field names; errors are `{"code", "message"}` with the gRPC code name and the HTTP status
grpc-gateway maps it to, and the same messages as gRPC.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from eduscore import metrics
from eduscore.errors import DeadlineExpired, EduScoreError, InvalidInput, Overloaded
from eduscore.serving import openapi
from eduscore.serving.http_request import ApiError, BodyBudget, deadline_of, parse
from eduscore.serving.interceptors import bearer_token
from eduscore.serving.servicer import model_info_of, score_many, score_one
from eduscore.serving.status import status_of
from eduscore.v1 import eduscore_pb2 as pb

if TYPE_CHECKING:
    from eduscore.serving.app import App

log = logging.getLogger(__name__)

#: Open without a token, like gRPC health: probes and API docs need no secret.
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})
#: Seconds a refused (queue full) caller is told to wait; the queue drains in about that.
RETRY_AFTER_S = 1


def _to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


async def _within(deadline: float | None, call: Awaitable[Message]) -> Message:
    """Await `call` until the deadline; past it, its queued snippets are cancelled (504)."""
    if deadline is None:
        return await call
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await call
    except TimeoutError:
        raise DeadlineExpired("the request's Grpc-Timeout passed before its result") from None


def _handlers(app: App) -> dict[tuple[str, str], Callable[[web.Request], Awaitable[web.Response]]]:
    s = app.settings
    budget = BodyBudget(max_queue_bytes=s.max_queue_bytes, max_body=s.max_message_bytes)

    async def score(request: web.Request) -> web.Response:
        deadline = deadline_of(request)
        message = await parse(request, pb.ScoreRequest(), budget)
        return web.json_response(
            _to_json(await _within(deadline, score_one(app, message, deadline)))
        )

    async def score_batch(request: web.Request) -> web.Response:
        deadline = deadline_of(request)
        message = await parse(request, pb.ScoreBatchRequest(), budget)
        reply = await _within(deadline, score_many(app, message, deadline))
        return web.json_response(_to_json(reply))

    async def model(request: web.Request) -> web.Response:
        return web.json_response(_to_json(model_info_of(app)))

    async def healthz(request: web.Request) -> web.Response:
        status = "SERVING" if app.serving else "NOT_SERVING"
        return web.json_response({"status": status}, status=200 if app.serving else 503)

    async def openapi_json(request: web.Request) -> web.Response:
        return web.json_response(openapi.DOCUMENT)

    return {
        ("POST", "/v1/score"): score,
        ("POST", "/v1/score_batch"): score_batch,
        ("GET", "/v1/model"): model,
        ("GET", "/healthz"): healthz,
        ("GET", "/openapi.json"): openapi_json,
    }


def _error_of(exc: BaseException) -> ApiError:
    """The response for an exception; unknown ones hide their details behind a request id."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return ApiError(
            grpc.StatusCode.UNIMPLEMENTED, f"use {allowed}", status=405, headers={"Allow": allowed}
        )
    if isinstance(exc, web.HTTPNotFound):
        return ApiError(grpc.StatusCode.NOT_FOUND, "no such path; see /openapi.json")
    code = status_of(type(exc))
    if isinstance(exc, EduScoreError) and code is not grpc.StatusCode.INTERNAL:
        # Counted as gRPC counts it: invalid input here, queue refusals where the batcher
        # decides them (each refused request once).
        if isinstance(exc, InvalidInput):
            metrics.rejected.labels("invalid").inc()
        headers = {"Retry-After": str(RETRY_AFTER_S)} if isinstance(exc, Overloaded) else None
        return ApiError(code, str(exc), headers=headers)
    request_id = uuid.uuid4().hex[:12]
    log.error("internal error (request id %s)", request_id, exc_info=exc)
    metrics.rejected.labels("error").inc()
    return ApiError(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")


def _middleware(app: App, routes: set[str]) -> Any:
    expected = app.settings.auth_token.encode()

    @web.middleware
    async def edge(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        path = request.path if request.path in routes else "other"
        try:
            if app.settings.auth_token and path in routes and path not in PUBLIC_PATHS:
                sent = bearer_token(request.headers.get("Authorization", "")).encode()
                if not hmac.compare_digest(sent, expected):
                    raise ApiError(
                        grpc.StatusCode.UNAUTHENTICATED,
                        "missing or wrong bearer token: send header"
                        " 'Authorization: Bearer <token>'",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            response = await handler(request)
        except asyncio.CancelledError:  # the client went away; its queued snippets are skipped
            metrics.http_requests.labels(request.method, path, "499").inc()
            raise
        except Exception as exc:
            response = _error_of(exc).response()
        metrics.http_requests.labels(request.method, path, str(response.status)).inc()
        metrics.http_request_seconds.labels(request.method, path).observe(
            time.perf_counter() - started
        )
        return response

    return edge


def _ssl_context(app: App) -> ssl.SSLContext | None:
    s = app.settings
    if not s.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(s.tls_cert, s.tls_key)
    if s.tls_client_ca:
        ctx.load_verify_locations(s.tls_client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def start(app: App) -> tuple[web.AppRunner, int]:
    """Listen on --host:--http-port; returns the runner (for `stop`) and the bound port."""
    s = app.settings
    handlers = _handlers(app)
    routes = {path for _, path in handlers}
    web_app = web.Application(
        middlewares=[_middleware(app, routes)], client_max_size=s.max_message_bytes
    )
    for (method, path), handler in handlers.items():
        web_app.router.add_route(method, path, handler)
        metrics.http_requests.labels(method, path, "200")  # pre-created: 0, not a gap
        metrics.http_request_seconds.labels(method, path)
    # handler_cancellation: a client that disconnects cancels its request and queued snippets.
    runner = web.AppRunner(web_app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(
        runner,
        s.host,
        s.http_port,
        ssl_context=_ssl_context(app),
        shutdown_timeout=s.grace_period_s,
    )
    await site.start()
    return runner, runner.addresses[0][1]


async def stop(runner: web.AppRunner) -> None:
    """Stop listening, let in-flight requests finish (within --grace-period-s), close."""
    await runner.cleanup()


class HttpEdge:
    """The HTTP/JSON API as an edge of the App (serving/app.py `Edge`): started, then stopped."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        self._runner, port = await start(self.app)
        return port

    async def stop(self) -> None:
        if self._runner is not None:
            await stop(self._runner)
