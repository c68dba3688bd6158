"""The gRPC server's lifecycle: build it (servicer, interceptors, health, reflection, TLS), start
it (model load, batcher, metrics and HTTP listeners), drain and stop it, and serve() until a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eduscore import __version__, metrics
from eduscore.config import Settings
from eduscore.scoring.cache import ResultCache
from eduscore.scoring.scorer import Scorer
from eduscore.serving.batching import MicroBatcher
from eduscore.serving.interceptors import (
    DecodeGuardInterceptor,
    MetricsInterceptor,
    TokenAuthInterceptor,
    init_series,
)
from eduscore.serving.servicer import EduScorerServicer
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["EduScorer"].full_name


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

    def _load(self) -> Scorer:
        s = self.settings
        return Scorer.load(
            s.resolved_model_dir,
            tier=s.tier,
            encoder=s.encoder,
            threshold=s.threshold,
            torch_threads=s.torch_threads,
            device=s.device,
        )

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
        self.scorer = scorer = scorer or await _in_passing_thread(self._load)
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
            "eduscore %s serving model %s (tiers %s, default %s, encoder %s) on port %d,"
            " metrics on %s, HTTP on %s",
            __version__,
            scorer.model_version,
            ",".join(scorer.tiers),
            scorer.default_tier,
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
