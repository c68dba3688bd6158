"""The HTTP/JSON API: the unary RPCs as JSON over HTTP, beside gRPC on the same event loop.

Same batcher, model, limits, token and TLS as gRPC (servicer.score_one & co.). Bodies use the
proto's field names; errors are `{"code", "message"}` with the gRPC code name and the HTTP status
grpc-gateway maps it to, and the same messages as gRPC.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
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
from eduscore.serving.servicer import model_info_of, score_many, score_one
from eduscore.serving.status import status_of
from eduscore.v1 import eduscore_pb2 as pb

if TYPE_CHECKING:
    from eduscore.serving.app import App

log = logging.getLogger(__name__)

#: grpc-gateway's table (runtime.HTTPStatusFromCode) for the codes this API returns.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
#: Open without a token, like gRPC health: probes and API docs need no secret.
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})
#: Seconds a refused (queue full) caller is told to wait; the queue drains in about that.
RETRY_AFTER_S = 1
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])")
_UNIT_S = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


class ApiError(Exception):
    """An error response: a gRPC code, a message the caller can act on, optional status/headers."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or HTTP_STATUS.get(code, 500)
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {"code": self.code.name, "message": self.message}
        return web.json_response(body, status=self.status, headers=self.headers)


def _to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


# Checked before ParseDict: its messages for a wrongly shaped field are confusing.
_SHAPES: dict[str, tuple[type, ...]] = {
    "snippet": (dict,),
    "snippets": (list,),
    "threshold": (int, float),
    "tier": (str,),
    "units": (bool,),
}


async def _parse(request: web.Request, message: Message) -> Message:
    """The body as `message`; malformed JSON, unknown or mistyped fields are INVALID_ARGUMENT."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("request body", f"not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body", "must be a JSON object")
    for name, kinds in _SHAPES.items():
        value = body.get(name)
        if value is not None and (
            not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        ):
            kind = {
                (dict,): "an object",
                (list,): "an array",
                (str,): "a string",
                (bool,): "true or false",
            }.get(kinds, "a number")
            raise InvalidInput(name, f"must be {kind}, got {type(value).__name__}")
    try:
        return json_format.ParseDict(body, message)
    except json_format.ParseError as exc:
        raise InvalidInput("request body", str(exc).replace("\n", " ")) from None


def _deadline(request: web.Request) -> float | None:
    """grpc-gateway's `Grpc-Timeout` header (e.g. `500m`, `2S`) as a time.monotonic() deadline."""
    raw = request.headers.get("Grpc-Timeout")
    if raw is None:
        return None
    m = _TIMEOUT.fullmatch(raw.strip())
    if m is None:
        raise InvalidInput("Grpc-Timeout", f"{raw!r} is not a gRPC timeout such as 500m or 2S")
    return time.monotonic() + int(m[1]) * _UNIT_S[m[2]]


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
    async def score(request: web.Request) -> web.Response:
        deadline = _deadline(request)
        message = await _parse(request, pb.ScoreRequest())
        return web.json_response(
            _to_json(await _within(deadline, score_one(app, message, deadline)))
        )

    async def score_batch(request: web.Request) -> web.Response:
        deadline = _deadline(request)
        message = await _parse(request, pb.ScoreBatchRequest())
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


def _error_of(exc: BaseException, max_body: int) -> ApiError:
    """The response for an exception; unknown ones hide their details behind a request id."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return ApiError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"request body exceeds --max-message-bytes={max_body}; split the batch",
            status=413,
        )
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
    expected = f"Bearer {app.settings.auth_token}".encode()
    max_body = app.settings.max_message_bytes

    @web.middleware
    async def edge(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        path = request.path if request.path in routes else "other"
        try:
            if app.settings.auth_token and path in routes and path not in PUBLIC_PATHS:
                sent = request.headers.get("Authorization", "").encode()
                if not hmac.compare_digest(sent, expected):
                    raise ApiError(
                        grpc.StatusCode.UNAUTHENTICATED,
                        "missing or wrong bearer token: send header"
                        " 'Authorization: Bearer <token>'",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
            if request.content_length is not None and request.content_length > max_body:
                raise web.HTTPRequestEntityTooLarge(max_size=max_body, actual_size=0)
            response = await handler(request)
        except asyncio.CancelledError:  # the client went away; its queued snippets are skipped
            metrics.http_requests.labels(request.method, path, "499").inc()
            raise
        except Exception as exc:
            response = _error_of(exc, max_body).response()
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
