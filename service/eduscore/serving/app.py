"""One running eduscore, as the gRPC servicer and the HTTP/JSON API share it: settings, health,
the model, its worker pool and batcher, the watchdog, and their start (load, warm, go SERVING)
and drain.

Its own module so the edges (servicer.py, http_api.py) and the builder (server.py) all import it
and it imports none of them: the HTTP API is handed in as an `Edge`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2

from eduscore import __version__, metrics
from eduscore.config import Settings
from eduscore.scoring.cache import ResultCache
from eduscore.scoring.scorer import Scorer
from eduscore.serving.batching import MicroBatcher
from eduscore.serving.pool import PoolWorker, WorkerRecipe, default_workers
from eduscore.serving.watchdog import Watchdog
from eduscore.v1 import eduscore_pb2 as pb

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["EduScorer"].full_name
#: The health service a liveness probe asks: SERVING once started, NOT_SERVING only when the
#: model hangs (the watchdog) or its worker died for good, so a restart can help. The overall
#: service "" (readiness) is NOT_SERVING while loading and draining too.
LIVENESS = "liveness"


class Edge(Protocol):
    """A listener beside gRPC that serves the same App (the HTTP/JSON API)."""

    async def start(self) -> int:
        """Listen; returns the bound port."""
        ...

    async def stop(self) -> None:
        """Stop listening and let in-flight requests finish within --grace-period-s."""
        ...


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
    #: The HTTP/JSON API when --http-port is on (server.build_server attaches it).
    http: Edge | None = None
    http_port: int | None = None
    #: Mirrors the health status, for the HTTP API's /healthz.
    serving: bool = False
    _watchdog: asyncio.Task[None] | None = None
    _draining: bool = False

    def _load(self) -> Scorer:
        s = self.settings
        return Scorer.load(
            s.resolved_model_dir,
            tier=s.tier,
            encoder=s.encoder,
            threshold=s.threshold,
            torch_threads=s.torch_threads,
            device=s.device,
            max_file_units=s.max_file_units,
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
        if self.http is not None:
            self.http_port = await self.http.start()
        self.scorer = scorer = scorer or await _in_passing_thread(self._load)
        loop = asyncio.get_running_loop()
        batcher = MicroBatcher(
            scorer,
            pool=self._pool(),
            max_batch_size=s.max_batch_size,
            max_batch_tokens=s.max_batch_tokens,
            max_wait_ms=s.max_wait_ms,
            max_queue_size=s.max_queue_size,
            max_queue_bytes=s.max_queue_bytes,
            cache=ResultCache(s.cache_size),
            on_failure=lambda exc: asyncio.run_coroutine_threadsafe(self._unhealthy(), loop),
        )
        await batcher.start()  # warms each model up in the one thread that will run it
        self.batcher = batcher
        watchdog = Watchdog(batcher, s.stall_timeout_s, self._stalled)
        self._watchdog = asyncio.create_task(watchdog.run())
        enc = scorer.embedder
        metrics.model_info.labels(
            scorer.model_version, enc.name, scorer.metadata.get("head", {}).get("class", "")
        ).set(1)
        await self.set_status(health_pb2.HealthCheckResponse.SERVING)
        metrics.ready.set(1)
        log.info(
            "eduscore %s serving model %s (tiers %s, default %s, encoder %s, %d pool workers) on"
            " port %d, metrics on %s, HTTP on %s",
            __version__,
            scorer.model_version,
            ",".join(scorer.tiers),
            scorer.default_tier,
            enc.name,
            sum(lane.worker is not None for lane in batcher.lanes),
            self.port,
            self.metrics_port if self.metrics_port is not None else "off",
            self.http_port if self.http_port is not None else "off",
        )

    def _pool(self) -> list[PoolWorker]:
        """The worker processes of --workers (-1: every core for a fast-only server)."""
        s = self.settings
        n = s.workers if s.workers >= 0 else default_workers(s.tier)
        recipe = WorkerRecipe(s.resolved_model_dir, s.threshold, s.log_level, s.log_format)
        return [PoolWorker(recipe, i) for i in range(n)]

    async def set_status(self, status: Any) -> None:
        """Readiness and liveness together (a stalled or dead model fails both)."""
        self.serving = status == health_pb2.HealthCheckResponse.SERVING
        for name in ("", SERVICE_NAME, LIVENESS):
            await self.health.set(name, status)

    async def _unhealthy(self) -> None:
        metrics.ready.set(0)
        self.serving = False
        await self.set_status(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def _stalled(self, stalled: bool) -> None:
        """The watchdog saw a call hang (True) or none hanging any more (False)."""
        if stalled:
            await self._unhealthy()
        elif not self._draining and self.batcher is not None and self.batcher.healthy:
            await self.set_status(health_pb2.HealthCheckResponse.SERVING)
            metrics.ready.set(1)

    async def stop(self, grace_s: float | None = None) -> None:
        """Drain: NOT_SERVING, refuse new RPCs, let in-flight ones finish within the grace."""
        metrics.ready.set(0)
        self.serving = False
        self._draining = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self.health.enter_graceful_shutdown()
        if self.http is not None and self.http_port is not None:
            # the HTTP API drains its in-flight requests alongside gRPC's
            await asyncio.gather(self.server.stop(grace_s), self.http.stop())
        else:
            await self.server.stop(grace_s)
        if self.batcher is not None:
            await asyncio.to_thread(self.batcher.close, 5.0)
        if self._metrics_http is not None:
            self._metrics_http.shutdown()
            self._metrics_http.server_close()
