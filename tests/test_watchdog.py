"""The watchdog: a model call that hangs turns health NOT_SERVING (readiness and liveness),
counts and logs; a hung pool worker is killed and replaced."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eduscore import metrics
from eduscore.config import Settings
from eduscore.scoring.scorer import Scorer
from eduscore.serving.app import LIVENESS
from eduscore.serving.server import build_server
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .conftest import start_server, stop_server
from .test_pool import big_snippets, cpu_s, health, wait_for, workers_of
from .test_server import scrape, scrape_until
from .test_tiers import needs_fast

SERVING, NOT_SERVING = (
    health_pb2.HealthCheckResponse.SERVING,
    health_pb2.HealthCheckResponse.NOT_SERVING,
)
HANG = "# the model call for this snippet hangs until the test releases it\n"


class _Hanging(Scorer):
    """The real scorer, whose call blocks (as a deadlocked native library would) on a batch
    holding the HANG snippet until `release` is set."""

    def __init__(self, inner: Scorer, release: threading.Event) -> None:
        self.__dict__.update(inner.__dict__)
        self.release = release

    def score_units(self, snippets, threshold=None):
        if any(HANG in s.code for s in snippets):
            self.release.wait(120)
        return super().score_units(snippets, threshold)


def _sample(name: str) -> float:
    return metrics.REGISTRY.get_sample_value(name) or 0.0


async def _statuses(stub: health_pb2_grpc.HealthStub) -> tuple[int, int]:
    replies = [
        await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        for name in ("", LIVENESS)
    ]
    return replies[0].status, replies[1].status


async def test_a_hung_model_call_turns_health_not_serving_until_it_returns(
    scorer: Scorer, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    settings = Settings(metrics_port=-1, http_port=-1, cache_size=0, stall_timeout_s=1.0)
    app = build_server(settings, "127.0.0.1:0")
    await app.start(scorer=_Hanging(scorer, release))
    stalled = _sample("eduscore_stalled_model_calls_total")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            assert await _statuses(health) == (SERVING, SERVING)
            request = pb.ScoreRequest(snippet=pb.Snippet(id="h", code=f"x = 1\n{HANG}"))
            call = asyncio.ensure_future(stub.Score(request, timeout=120))
            with caplog.at_level(logging.ERROR, logger="eduscore.serving.watchdog"):
                for _ in range(200):  # the watchdog looks once a second
                    if await _statuses(health) == (NOT_SERVING, NOT_SERVING):
                        break
                    await asyncio.sleep(0.05)
            assert await _statuses(health) == (NOT_SERVING, NOT_SERVING)
            assert _sample("eduscore_stalled_model_calls_total") == stalled + 1
            assert _sample("eduscore_oldest_model_call_seconds") > 1.0
            assert "model call on model has run" in caplog.text and "NOT_SERVING" in caplog.text
            assert not call.done()  # nothing answered the hung call for it
            release.set()
            assert (await call).id == "h"  # it returned after all, and is answered
            for _ in range(200):
                if await _statuses(health) == (SERVING, SERVING):
                    break
                await asyncio.sleep(0.05)
            assert await _statuses(health) == (SERVING, SERVING)
            assert _sample("eduscore_stalled_model_calls_total") == stalled + 1  # counted once
    finally:
        release.set()
        await app.stop(1)


@needs_fast
def test_a_stopped_pool_worker_is_killed_and_replaced(tmp_path: Path) -> None:
    """SIGSTOP freezes a worker mid-batch: a real hang, no fault injected in the code."""
    server = start_server(
        tmp_path, "--tier", "fast", "--workers", "1", "--stall-timeout-s", "10", "--cache-size", "0"
    )
    try:
        (pid,) = workers_of(server.process.pid)
        outcome: list[object] = []

        def call() -> None:
            with grpc.insecure_channel(server.address) as ch:
                stub = eduscore_pb2_grpc.EduScorerStub(ch)
                snippets = [pb.Snippet(code=c) for c in big_snippets(16, "frozen")]
                try:
                    outcome.append(stub.ScoreBatch(pb.ScoreBatchRequest(snippets=snippets)))
                except grpc.RpcError as exc:
                    outcome.append(exc)

        before = cpu_s(pid)
        caller = threading.Thread(target=call)
        caller.start()
        wait_for(lambda: cpu_s(pid) > before + 0.1, what="the worker never started the batch")
        os.kill(pid, signal.SIGSTOP)
        # NOT_SERVING from the tick that finds the call hung to the next that finds none.
        seen, deadline, done = set(), time.monotonic() + 120, None
        while time.monotonic() < (deadline if done is None else done + 3):
            seen.add(health(server.address))
            if done is None and not caller.is_alive():
                done = time.monotonic()
            time.sleep(0.05)
        assert NOT_SERVING in seen, seen
        (error,) = outcome
        assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAVAILABLE
        wait_for(lambda: workers_of(server.process.pid) not in ([], [pid]), what="no new worker")
        wait_for(lambda: health(server.address) == SERVING, what="health stayed NOT_SERVING")
        m = scrape_until(server.metrics_url, lambda m: m["eduscore_pool_workers"] == 1)
        assert m["eduscore_stalled_model_calls_total"] == 1
        assert m["eduscore_worker_restarts_total"] == 1
        assert "killed its worker process" in server.log()
        assert scrape(server.metrics_url)["eduscore_oldest_model_call_seconds"] < 10
    finally:
        assert stop_server(server) == 0, server.log()
