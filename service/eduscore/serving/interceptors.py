"""grpc.aio server interceptors: the standard `grpc_server_*` metrics, and bearer-token auth."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from eduscore import metrics

#: Services reachable without a token: probes must work without secrets.
PUBLIC_SERVICES = ("grpc.health.v1.Health",)


def _split(full_method: str) -> tuple[str, str]:
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


def _kind(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming and handler.response_streaming:
        return "bidi_stream"
    if handler.request_streaming:
        return "client_stream"
    if handler.response_streaming:
        return "server_stream"
    return "unary"


def _rebuild(
    handler: grpc.RpcMethodHandler,
    wrap: Callable[[Any, bool, bool], Any],
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> Any:
    """A handler of the same shape whose behaviour is `wrap(behaviour, req_stream, resp_stream)`."""
    if handler.request_streaming and handler.response_streaming:
        make, inner = grpc.stream_stream_rpc_method_handler, handler.stream_stream
    elif handler.request_streaming:
        make, inner = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    elif handler.response_streaming:
        make, inner = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    else:
        make, inner = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    return make(
        wrap(inner, handler.request_streaming, handler.response_streaming),
        request_deserializer=request_deserializer or handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def init_series(service: str, methods: Iterable[tuple[str, str]]) -> None:
    """Pre-create every (method, code) series so dashboards show 0 instead of gaps."""
    for method, kind in methods:
        labels = (kind, service, method)
        metrics.grpc_started.labels(*labels)
        metrics.grpc_msg_received.labels(*labels)
        metrics.grpc_msg_sent.labels(*labels)
        metrics.grpc_handling_seconds.labels(*labels)
        for code in grpc.StatusCode:
            metrics.grpc_handled.labels(*labels, code.name)


class _CachedWrapper(grpc.aio.ServerInterceptor):
    """Wraps each method's handler once and reuses the wrapper: building closures per RPC would
    put the same work on every request's path."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap_handler(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap_handler(self, handler: grpc.RpcMethodHandler, full_method: str) -> Any:
        raise NotImplementedError


class MetricsInterceptor(_CachedWrapper):
    """Counts started/handled RPCs, messages and latency for all four call shapes."""

    def _wrap_handler(self, handler: grpc.RpcMethodHandler, full_method: str) -> Any:
        service, method = _split(full_method)
        labels = (_kind(handler), service, method)

        def wrap(behaviour: Any, req_stream: bool, resp_stream: bool) -> Any:
            def count_in(request: Any) -> Any:
                if not req_stream:
                    metrics.grpc_msg_received.labels(*labels).inc()
                    return request
                return _counted(request, metrics.grpc_msg_received.labels(*labels))

            if resp_stream:

                async def stream_behaviour(request: Any, context: Any) -> AsyncIterator[Any]:
                    started, code = time.perf_counter(), None
                    metrics.grpc_started.labels(*labels).inc()
                    sent = metrics.grpc_msg_sent.labels(*labels)
                    try:
                        async for response in behaviour(count_in(request), context):
                            sent.inc()
                            yield response
                    except asyncio.CancelledError:
                        code = grpc.StatusCode.CANCELLED
                        raise
                    except grpc.aio.AbortError:
                        raise
                    except Exception:
                        code = grpc.StatusCode.UNKNOWN
                        raise
                    finally:
                        _finish(labels, context, started, code)

                return stream_behaviour

            async def unary_behaviour(request: Any, context: Any) -> Any:
                started, code = time.perf_counter(), None
                metrics.grpc_started.labels(*labels).inc()
                try:
                    response = await behaviour(count_in(request), context)
                    metrics.grpc_msg_sent.labels(*labels).inc()
                    return response
                except asyncio.CancelledError:
                    code = grpc.StatusCode.CANCELLED
                    raise
                except grpc.aio.AbortError:
                    raise
                except Exception:
                    code = grpc.StatusCode.UNKNOWN
                    raise
                finally:
                    _finish(labels, context, started, code)

            return unary_behaviour

        return _rebuild(handler, wrap)


def _finish(
    labels: tuple[str, str, str], context: grpc.aio.ServicerContext, started: float, code: Any
) -> None:
    """Count the handled RPC under its final status (OK unless set) and observe its latency."""
    code = code or context.code() or grpc.StatusCode.OK
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    metrics.grpc_handled.labels(*labels, code.name).inc()
    metrics.grpc_handling_seconds.labels(*labels).observe(time.perf_counter() - started)


async def _counted(requests: AsyncIterator[Any], counter: Any) -> AsyncIterator[Any]:
    async for request in requests:
        counter.inc()
        yield request


def bearer_token(value: str) -> str:
    """The token of an `authorization` value `Bearer <token>`, "" for any other scheme. The
    scheme matches in any case (`bearer`, `BEARER`): RFC 7235 makes schemes case-insensitive."""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses RPCs without `authorization: Bearer <token>` (health stays open for probes)."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        service, _ = _split(handler_call_details.method)
        handler = await continuation(handler_call_details)
        if handler is None or service in PUBLIC_SERVICES:
            return handler
        sent = dict(handler_call_details.invocation_metadata or ()).get("authorization", "")
        if not isinstance(sent, str):
            sent = bytes(sent).decode("latin-1")
        if hmac.compare_digest(bearer_token(sent).encode(), self._expected):
            return handler

        def wrap(_behaviour: Any, _req_stream: bool, resp_stream: bool) -> Any:
            async def deny(_request: Any, context: grpc.aio.ServicerContext) -> Any:
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "missing or wrong bearer token: send metadata 'authorization: Bearer <token>'",
                )

            if resp_stream:

                async def deny_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                    await deny(request, context)
                    yield  # pragma: no cover - abort raised above

                return deny_stream
            return deny

        return _rebuild(handler, wrap)


class Undecodable:
    """Stands in for a request message that could not be parsed (e.g. a string not UTF-8)."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class DecodeGuardInterceptor(_CachedWrapper):
    """Turns unparseable request bytes into INVALID_ARGUMENT instead of gRPC's generic INTERNAL.

    A conformant client cannot send a proto3 string that is not UTF-8, but a raw one can; the
    caller should learn that its bytes were wrong, not that the server failed.
    """

    def _wrap_handler(self, handler: grpc.RpcMethodHandler, full_method: str) -> Any:
        if handler.request_deserializer is None:
            return handler
        parse = handler.request_deserializer

        def tolerant(data: bytes) -> Any:
            try:
                return parse(data)
            except Exception as exc:  # DecodeError and friends
                return Undecodable(exc)

        async def reject(context: grpc.aio.ServicerContext, bad: Undecodable) -> None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request: not a valid message ({bad.error}); strings must be UTF-8",
            )

        def wrap(behaviour: Any, req_stream: bool, resp_stream: bool) -> Any:
            if req_stream:

                async def checked(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
                    async for request in requests:
                        if isinstance(request, Undecodable):
                            await reject(context, request)
                        yield request

                if resp_stream:

                    async def stream_stream(requests: Any, context: Any) -> AsyncIterator[Any]:
                        async for response in behaviour(checked(requests, context), context):
                            yield response

                    return stream_stream

                async def stream_unary(requests: Any, context: Any) -> Any:
                    return await behaviour(checked(requests, context), context)

                return stream_unary

            if resp_stream:

                async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                    if isinstance(request, Undecodable):
                        await reject(context, request)
                    async for response in behaviour(request, context):
                        yield response

                return unary_stream

            async def unary_unary(request: Any, context: Any) -> Any:
                if isinstance(request, Undecodable):
                    await reject(context, request)
                return await behaviour(request, context)

            return unary_unary

        return _rebuild(handler, wrap, request_deserializer=tolerant)
