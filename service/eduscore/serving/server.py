"""The gRPC server: build it (servicer, interceptors, health, reflection, TLS, the HTTP API as
an edge of its App) and serve() it until a signal, then drain; the App (serving/app.py) does the
starting and stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eduscore.config import Settings
from eduscore.serving import http_api
from eduscore.serving.app import SERVICE_NAME, App
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
    if settings.http_port >= 0:
        app.http = http_api.HttpEdge(app)
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
