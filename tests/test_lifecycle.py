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

from .conftest import START_TIMEOUT_S, start_server, stop_server


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


def test_first_serving_answer_means_the_model_answers(tmp_path: Path) -> None:
    """Health polled from the moment the process starts: never SERVING before the model is
    loaded and warmed, so the first SERVING is followed by a successful Score."""
    srv = start_server(tmp_path, "--cache-size", "0", wait=False)
    seen: list[str] = []
    try:
        with grpc.insecure_channel(srv.address) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and srv.process.poll() is None:
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=2)
                    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                except grpc.RpcError as exc:
                    status = exc.code().name  # not listening yet
                if not seen or seen[-1] != status:
                    seen.append(status)
                if status == "SERVING":
                    break
                time.sleep(0.02)
            assert seen[-1:] == ["SERVING"], (seen, srv.log())
            reply = eduscore_pb2_grpc.EduScorerStub(ch).Score(
                pb.ScoreRequest(snippet=pb.Snippet(code="def f():\n    return 1\n")), timeout=5
            )
            assert reply.n_tokens > 0 and reply.model_version
        assert "NOT_SERVING" in seen, seen  # polled while the model loaded
    finally:
        assert stop_server(srv) == 0, srv.log()
