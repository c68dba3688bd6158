"""Shared fixtures: one real server process per test session, one in-process Scorer."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "models" / "current"
CORPUS = ROOT.parent / "shared" / "data" / "edu-annotations" / "corpus.jsonl"
FILES = CORPUS.with_name("files.jsonl")
START_TIMEOUT_S = 240


def shipped_encoder_name() -> str:
    """What the shipped model says its encoder is (metadata.json: the name it was trained with)."""
    return json.loads((MODEL_DIR / "metadata.json").read_text())["encoder"]["name"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    address: str
    metrics_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    http_url: str = ""  # the HTTP/JSON API, e.g. http://127.0.0.1:8123

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_serving(address: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited {process.returncode}:\n{log_path.read_text()}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.25)
    raise TimeoutError(f"server not SERVING after {START_TIMEOUT_S}s:\n{log_path.read_text()}")


def start_server(
    tmp: Path, *extra: str, env: dict[str, str] | None = None, wait: bool = True
) -> RunningServer:
    """`python -m eduscore serve` on free loopback ports; returns once health is SERVING
    (at once with `wait=False`)."""
    port, metrics_port, http_port = free_port(), free_port(), free_port()
    log_path = tmp / f"server-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "eduscore",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--metrics-host",
        "127.0.0.1",
        "--metrics-port",
        str(metrics_port),
        "--http-port",
        str(http_port),
        *extra,
    ]
    process = subprocess.Popen(
        cmd,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )
    address = f"127.0.0.1:{port}"
    try:
        if wait:
            wait_serving(address, process, log_path)
    except BaseException:
        process.kill()
        raise
    return RunningServer(
        address,
        f"http://127.0.0.1:{metrics_port}/metrics",
        process,
        log_path,
        http_url=f"http://127.0.0.1:{http_port}",
    )


def stop_server(server: RunningServer, timeout_s: float = 60) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        return server.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return -9


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    code = stop_server(running)
    assert code == 0, f"server exited {code} on SIGTERM:\n{running.log()}"


@pytest.fixture(scope="session")
def channel(server: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as ch:
        yield ch


@pytest.fixture(scope="session")
def stub(channel: grpc.Channel):
    from eduscore.v1 import eduscore_pb2_grpc

    return eduscore_pb2_grpc.EduScorerStub(channel)


@pytest.fixture(scope="session")
def scorer():
    from eduscore.scoring.scorer import Scorer

    return Scorer.load(str(MODEL_DIR))


@dataclass
class SecureServer:
    """An in-process server with what the session server lacks: a token, TLS, a tiny queue."""

    app: Any
    token: str
    ca: bytes
    ssl_context: ssl.SSLContext

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.app.http_port}"

    @property
    def address(self) -> str:
        return f"localhost:{self.app.port}"  # the certificate's name


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def secure(scorer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureServer]:
    """Built on the in-process `scorer` (no second model load); gRPC and HTTP on free ports."""
    from eduscore.config import Settings
    from eduscore.serving.server import build_server

    from .test_reliability import _certs

    tmp = tmp_path_factory.mktemp("secure")
    certs = _certs(tmp)
    settings = Settings(
        host="127.0.0.1",
        metrics_port=-1,
        http_port=0,
        auth_token="s3cret",
        tls_cert=str(tmp / "server_cert.pem"),
        tls_key=str(tmp / "server_key.pem"),
        max_queue_size=8,
        max_batch_snippets=8,  # no larger than the queue (config refuses that)
        max_file_units=8,  # nor a file's units
        max_stream_inflight=8,
        max_batch_size=4,
        cache_size=0,
    )
    app = build_server(settings, "127.0.0.1:0")
    await app.start(scorer=scorer)
    ctx = ssl.create_default_context(cadata=certs["ca"].decode())
    ctx.check_hostname = False  # the certificate names localhost; HTTP tests dial 127.0.0.1
    yield SecureServer(app, settings.auth_token, certs["ca"], ctx)
    await app.stop(1)
