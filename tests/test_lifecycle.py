"""SIGTERM drains: NOT_SERVING, in-flight work finishes, new RPCs refused, exit 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .conftest import start_server


def test_sigterm_finishes_in_flight_stream_then_exits_0(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--grace-period-s", "30", "--cache-size", "0")
    codes = [f"def f{i}(x):\n    '''Add {i}.'''\n    return x + {i}\n" for i in range(120)]
    results: list[pb.ScoreResult] = []
    errors: list[grpc.RpcError] = []
    started = threading.Event()

    def stream() -> None:
        with grpc.insecure_channel(srv.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            try:
                for r in stub.ScoreStream(
                    iter(
                        [
                            pb.ScoreRequest(snippet=pb.Snippet(id=str(i), code=c))
                            for i, c in enumerate(codes)
                        ]
                    ),
                    timeout=120,
                ):
                    results.append(r)
                    started.set()
            except grpc.RpcError as exc:
                errors.append(exc)

    worker = threading.Thread(target=stream)
    worker.start()
    assert started.wait(60), srv.log()
    srv.process.send_signal(signal.SIGTERM)
    # While draining, health answers NOT_SERVING or the listener is already closed.
    time.sleep(0.3)
    with grpc.insecure_channel(srv.address) as ch:
        try:
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        try:
            eduscore_pb2_grpc.EduScorerStub(ch).Score(
                pb.ScoreRequest(snippet=pb.Snippet(code="x = 1")), timeout=2
            )
            raise AssertionError("a new RPC was accepted while draining")
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    worker.join(120)
    assert srv.process.wait(60) == 0, srv.log()
    assert not errors, errors
    assert [r.id for r in results] == [str(i) for i in range(len(codes))]
