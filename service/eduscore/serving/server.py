"""The gRPC edge: a thin servicer, health and reflection, the error -> status table, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eduscore import __version__, metrics
from eduscore.config import Settings
from eduscore.errors import (
    DeadlineExpired,
    EduScoreError,
    InvalidInput,
    ModelLoadError,
    Overloaded,
    ShuttingDown,
)
from eduscore.scoring.cache import ResultCache
from eduscore.scoring.scorer import Scorer, ScoreResult
from eduscore.serving import validation
from eduscore.serving.batching import MicroBatcher
from eduscore.serving.interceptors import (
    DecodeGuardInterceptor,
    MetricsInterceptor,
    TokenAuthInterceptor,
    init_series,
)
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["EduScorer"].full_name
#: The one table from domain error to gRPC status; a subclass maps as its nearest listed base
#: (QueueFull as Overloaded). tests/test_errors.py checks that every EduScoreError is covered.
STATUS_OF: dict[type[EduScoreError], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    Overloaded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    DeadlineExpired: grpc.StatusCode.DEADLINE_EXCEEDED,
    # Raised while loading, before any RPC is served; listed so no domain error is INTERNAL.
    ModelLoadError: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_of(kind: type[BaseException]) -> grpc.StatusCode:
    """The status of an error type: its nearest base in STATUS_OF, else INTERNAL."""
    for base in kind.__mro__:
        if base in STATUS_OF:
            return STATUS_OF[base]
    return grpc.StatusCode.INTERNAL


async def _abort_for(exc: BaseException, context: grpc.aio.ServicerContext, n: int) -> None:
    """Abort the RPC with the status that `exc` maps to; unknown errors hide their details.

    Each refused snippet is counted once, where the refusal is decided: the `n` snippets of the
    RPC here for invalid input and internal errors, queue refusals in the batcher.
    """
    code = status_of(type(exc))
    if code is not grpc.StatusCode.INTERNAL:
        if isinstance(exc, InvalidInput):
            metrics.rejected.labels("invalid").inc(n)
        await context.abort(code, str(exc))
    request_id = uuid.uuid4().hex[:12]
    log.error("internal error (request id %s)", request_id, exc_info=exc)
    metrics.rejected.labels("error").inc(n)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")


def _n_snippets(request: Any) -> int:
    if isinstance(request, pb.ScoreBatchRequest):
        return len(request.snippets)
    return 1 if isinstance(request, pb.ScoreRequest) else 0


def _edge(method: Callable[..., Any]) -> Callable[..., Any]:
    """Map exceptions of a unary handler to statuses; never leak a traceback."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as exc:
            await _abort_for(exc, context, _n_snippets(request))

    return wrapper


def _deadline(context: grpc.aio.ServicerContext) -> float | None:
    left = context.time_remaining()
    return None if left is None else time.monotonic() + left


def _observe(results: list[pb.ScoreResult]) -> None:
    for r in results:
        metrics.score_distribution.observe(r.score)
        metrics.decisions.labels("keep" if r.keep else "drop").inc()


async def _gather(futures: list[asyncio.Future[ScoreResult]]) -> list[ScoreResult]:
    """Await every future; if the RPC is cancelled, cancel them so the worker skips them."""
    try:
        return list(await asyncio.gather(*futures))
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


class EduScorerServicer(pb_grpc.EduScorerServicer):
    """Validates, hands snippets to the batcher, converts results. No logic of its own."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _batcher(self, n: int) -> MicroBatcher:
        return batcher_of(self.app, n)

    @_edge
    async def Score(self, request: pb.ScoreRequest, context: Any) -> pb.ScoreResult:
        return await score_one(self.app, request, _deadline(context))

    @_edge
    async def ScoreBatch(
        self, request: pb.ScoreBatchRequest, context: Any
    ) -> pb.ScoreBatchResponse:
        return await score_many(self.app, request, _deadline(context))

    async def ScoreStream(
        self, request_iterator: AsyncIterator[pb.ScoreRequest], context: Any
    ) -> AsyncIterator[pb.ScoreResult]:
        """Pipelined: a reader keeps up to --max-stream-inflight items queued; answers in order."""
        s = self.app.settings
        window: asyncio.Queue[Any] = asyncio.Queue(maxsize=s.max_stream_inflight)
        done = object()

        async def read() -> None:
            try:
                n = 0
                async for request in request_iterator:
                    field = f"request[{n}] (id={request.snippet.id!r})"
                    threshold = validation.threshold_of(request, s.threshold)
                    snippet = validation.snippet_of(
                        request.snippet, f"{field}.snippet", max_bytes=s.max_snippet_bytes
                    )
                    fut = await self._batcher(1).submit_when_ready(
                        snippet, deadline=_deadline(context)
                    )
                    await window.put((fut, threshold, snippet.id))
                    n += 1
                await window.put(done)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                await window.put(exc)

        reader = asyncio.create_task(read())
        try:
            while True:
                item = await window.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    await _abort_for(item, context, 1)
                fut, threshold, snippet_id = item
                try:
                    result = await fut
                except (grpc.aio.AbortError, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    await _abort_for(exc, context, 1)
                out = validation.result_message(result, threshold, snippet_id)
                _observe([out])
                yield out
        finally:
            reader.cancel()
            while not window.empty():
                item = window.get_nowait()
                if isinstance(item, tuple):
                    item[0].cancel()

    @_edge
    async def GetModelInfo(self, request: pb.GetModelInfoRequest, context: Any) -> pb.ModelInfo:
        return model_info_of(self.app)


# The unary calls, shared by the gRPC servicer and the HTTP/JSON API (serving/http_api.py) so
# both go through the same validation, batcher and limits. `deadline` is time.monotonic().


def batcher_of(app: App, n: int = 1) -> MicroBatcher:
    """The batcher, or ShuttingDown (its `n` snippets counted) while the model loads."""
    if app.batcher is None:
        metrics.rejected.labels("shutting_down").inc(n)
        raise ShuttingDown("the model is still loading; retry shortly")
    return app.batcher


async def score_one(app: App, request: pb.ScoreRequest, deadline: float | None) -> pb.ScoreResult:
    s = app.settings
    threshold = validation.threshold_of(request, s.threshold)
    snippet = validation.snippet_of(request.snippet, "snippet", max_bytes=s.max_snippet_bytes)
    futures = batcher_of(app, 1).submit([snippet], deadline=deadline)
    (result,) = await _gather(futures)
    out = [validation.result_message(result, threshold, snippet.id)]
    _observe(out)
    return out[0]


async def score_many(
    app: App, request: pb.ScoreBatchRequest, deadline: float | None
) -> pb.ScoreBatchResponse:
    s = app.settings
    threshold = validation.threshold_of(request, s.threshold)
    snippets = validation.batch_of(
        request, max_snippets=s.max_batch_snippets, max_bytes=s.max_snippet_bytes
    )
    futures = batcher_of(app, len(snippets)).submit(snippets, deadline=deadline)
    results = await _gather(futures)
    out = [
        validation.result_message(r, threshold, snip.id)
        for r, snip in zip(results, snippets, strict=True)
    ]
    _observe(out)
    return pb.ScoreBatchResponse(results=out)


def model_info_of(app: App) -> pb.ModelInfo:
    if app.scorer is None:
        raise ShuttingDown("the model is still loading; retry shortly")
    return model_info(app.scorer, app.settings)


def model_info(scorer: Scorer, s: Settings) -> pb.ModelInfo:
    meta = scorer.metadata
    cv = meta.get("cv", {})
    scalar = {k: float(v) for k, v in cv.items() if isinstance(v, int | float) and k != "n"}
    # Per detected format too ("yaml.recall_keep"): a pooled F1 can hide a format never kept.
    for fmt, row in cv.get("per_format", {}).items():
        for k in ("f1_keep", "precision_keep", "recall_keep", "n", "n_keep_true"):
            scalar[f"{fmt}.{k}"] = float(row[k])
    data = meta.get("training_data", {})
    return pb.ModelInfo(
        model_version=scorer.model_version,
        embedding_model=scorer.embedder.name,
        embedding_dim=scorer.embedder.dim,
        classifier=meta.get("head", {}).get("class", ""),
        default_threshold=s.threshold,
        label_min=0.0,
        label_max=5.0,
        training_data_sha256=data.get("sha256", ""),
        training_data_size=int(data.get("n_units", 0)),
        metrics=scalar,
        signal_names=scorer.signal_names,
        limits=pb.Limits(
            max_batch_snippets=s.max_batch_snippets,
            max_snippet_bytes=s.max_snippet_bytes,
            max_batch_size=s.max_batch_size,
            max_stream_inflight=s.max_stream_inflight,
            max_seq_length=scorer.embedder.max_seq_length,
            max_message_bytes=s.max_message_bytes,
        ),
        server_version=__version__,
    )


async def _in_passing_thread(fn: Callable[[], Any]) -> Any:
    """`fn()` in a thread that then exits, keeping the event loop free.

    Unlike `asyncio.to_thread`, whose pool threads live on, the thread ends and takes its OpenMP
    team with it, so the model thread's team stays the only one (see MicroBatcher.start).
    """
    pool = ThreadPoolExecutor(1, thread_name_prefix="eduscore-load")
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)
    finally:
        pool.shutdown(wait=False)


@dataclass
class App:
    """One running eduscore: gRPC server, health, batcher and the model behind it."""

    settings: Settings
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    scorer: Scorer | None = None
    batcher: MicroBatcher | None = None
    metrics_port: int | None = None
    _metrics_http: Any = None
    http_port: int | None = None
    _http: Any = None
    #: Mirrors the health status, for the HTTP API's /healthz.
    serving: bool = False

    async def start(self, scorer: Scorer | None = None) -> None:
        """Listen at once (health NOT_SERVING), load and warm the model, then go SERVING."""
        # grpc's HealthServicer answers SERVING for "" until told otherwise: say NOT_SERVING
        # before listening, so no start path (serve() or in-process) is ready before the model.
        await self.set_status(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        s = self.settings
        if s.metrics_port >= 0:
            from prometheus_client import start_http_server

            self._metrics_http, _ = start_http_server(
                s.metrics_port, addr=s.metrics_host, registry=metrics.REGISTRY
            )
            self.metrics_port = self._metrics_http.server_port
        if s.http_port >= 0:
            from eduscore.serving import http_api

            self._http, self.http_port = await http_api.start(self)
        if scorer is None:
            scorer = await _in_passing_thread(
                functools.partial(
                    Scorer.load,
                    s.resolved_model_dir,
                    encoder=s.encoder,
                    threshold=s.threshold,
                    torch_threads=s.torch_threads,
                )
            )
        self.scorer = scorer
        loop = asyncio.get_running_loop()
        batcher = MicroBatcher(
            scorer,
            max_batch_size=s.max_batch_size,
            max_batch_tokens=s.max_batch_tokens,
            max_wait_ms=s.max_wait_ms,
            max_queue_size=s.max_queue_size,
            max_queue_bytes=s.max_queue_bytes,
            cache=ResultCache(s.cache_size),
            on_failure=lambda exc: asyncio.run_coroutine_threadsafe(self._unhealthy(), loop),
        )
        await batcher.start()  # warms the model up in the one thread that will run it
        self.batcher = batcher
        enc = scorer.embedder
        metrics.model_info.labels(
            scorer.model_version, enc.name, scorer.metadata.get("head", {}).get("class", "")
        ).set(1)
        await self.set_status(health_pb2.HealthCheckResponse.SERVING)
        metrics.ready.set(1)
        log.info(
            "eduscore %s serving model %s (encoder %s) on port %d, metrics on %s, HTTP on %s",
            __version__,
            scorer.model_version,
            enc.name,
            self.port,
            self.metrics_port if self.metrics_port is not None else "off",
            self.http_port if self.http_port is not None else "off",
        )

    async def set_status(self, status: Any) -> None:
        self.serving = status == health_pb2.HealthCheckResponse.SERVING
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def _unhealthy(self) -> None:
        metrics.ready.set(0)
        self.serving = False
        await self.set_status(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain: NOT_SERVING, refuse new RPCs, let in-flight ones finish within the grace."""
        metrics.ready.set(0)
        self.serving = False
        await self.health.enter_graceful_shutdown()
        if self._http is not None:  # drains its in-flight requests alongside gRPC's
            from eduscore.serving import http_api

            await asyncio.gather(self.server.stop(grace_s), http_api.stop(self._http))
        else:
            await self.server.stop(grace_s)
        if self.batcher is not None:
            await asyncio.to_thread(self.batcher.close, 5.0)
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()


def _credentials(s: Settings) -> grpc.ServerCredentials | None:
    if not s.tls_cert:
        return None
    cert, key = Path(s.tls_cert).read_bytes(), Path(s.tls_key).read_bytes()
    ca = Path(s.tls_client_ca).read_bytes() if s.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def build_server(settings: Settings, address: str | None = None) -> App:
    """Create (not start) the server, bound to `address` (default host:port); see App.port."""
    interceptors: list[grpc.aio.ServerInterceptor] = [MetricsInterceptor()]
    if settings.auth_token:
        interceptors.append(TokenAuthInterceptor(settings.auth_token))
    interceptors.append(DecodeGuardInterceptor())
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
            ("grpc.so_reuseport", 0),
        ],
    )
    health_servicer = health.aio.HealthServicer()
    app = App(settings=settings, server=server, health=health_servicer, port=0)
    pb_grpc.add_EduScorerServicer_to_server(EduScorerServicer(app), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    methods = pb.DESCRIPTOR.services_by_name["EduScorer"].methods
    init_series(
        SERVICE_NAME, [(m.name, "bidi_stream" if m.client_streaming else "unary") for m in methods]
    )
    addr = address or f"{settings.host}:{settings.port}"
    creds = _credentials(settings)
    app.port = server.add_secure_port(addr, creds) if creds else server.add_insecure_port(addr)
    return app


async def serve(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT, then drain within --grace-period-s. Returns the exit code."""
    app = build_server(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(app.start())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done() and starting.exception() is not None:
        await app.server.stop(None)
        raise starting.exception()  # type: ignore[misc]
    await waiter
    log.info("stopping: draining for up to %.1f s", settings.grace_period_s)
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    await app.stop(settings.grace_period_s)
    log.info("stopped")
    return 0
