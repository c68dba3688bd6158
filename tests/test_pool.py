"""The fast tier's worker pool in real servers: scores as in-process, workers killed mid-batch
(SIGKILL) answered UNAVAILABLE and replaced, a worker that cannot be replaced is NOT_SERVING."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

from .conftest import MODEL_DIR, RunningServer, start_server, stop_server
from .snippets import SETTINGS, TEXTBOOK
from .test_server import scrape, scrape_until
from .test_tiers import needs_fast

pytestmark = needs_fast
TOL = 1e-6  # the same model, the same arithmetic: only float32 on the wire


def workers_of(pid: int) -> list[int]:
    """The pool's worker processes of server `pid` (spawned children; not the resource tracker)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmd:
            out.append(int(stat.parent.name))
    return sorted(out)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(check: Callable[[], bool], timeout_s: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)


def health(address: str, service: str = "") -> int:
    with grpc.insecure_channel(address) as ch:
        request = health_pb2.HealthCheckRequest(service=service)
        return health_pb2_grpc.HealthStub(ch).Check(request, timeout=10).status


def big_snippets(n: int, tag: str) -> list[str]:
    """`n` distinct ~60 KB files, each one long function (a file of two units: its head and
    the function): seconds of signal extraction for one batch."""
    return [
        f"def {tag}_{i}(x: int) -> int:\n"
        + "".join(f"    x = x * {k} + {i}\n" for k in range(3000))
        + "    return x\n"
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def fast_scorer() -> Scorer:
    return Scorer.load(str(MODEL_DIR), tier="fast")


@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("pool"), "--tier", "fast", "--workers", "2")
    yield running
    assert stop_server(running) == 0, running.log()
    assert workers_of(running.process.pid) == []


def _requests(codes: list[str], prefix: str) -> list[pb.ScoreRequest]:
    return [pb.ScoreRequest(snippet=pb.Snippet(id=f"{prefix}{i}", code=c)) for i, c in
            enumerate(codes)]  # fmt: skip


def test_a_fast_server_scores_in_its_workers_as_in_process(pooled, fast_scorer) -> None:
    pids = workers_of(pooled.process.pid)
    assert len(pids) == 2, pooled.log()
    codes = [TEXTBOOK, SETTINGS, *(f"def f_{i}(x):\n    return x * {i}\n" for i in range(40))]
    want = fast_scorer.score_batch([Snippet(code=c) for c in codes])
    with grpc.insecure_channel(pooled.address) as ch:
        stub = eduscore_pb2_grpc.EduScorerStub(ch)
        batch = pb.ScoreBatchRequest(snippets=[r.snippet for r in _requests(codes, "b")])
        with ThreadPoolExecutor(8) as pool:
            unary = list(pool.map(lambda r: stub.Score(r, timeout=60), _requests(codes, "u")))
        answers = {
            "batch": list(stub.ScoreBatch(batch, timeout=60).results),
            "unary": unary,
            "stream": list(stub.ScoreStream(iter(_requests(codes, "s")), timeout=60)),
        }
        # One call of two full batches keeps both workers busy at once.
        busy = [cpu_s(p) for p in pids]
        big = big_snippets(128, "shared")
        request = pb.ScoreBatchRequest(snippets=[pb.Snippet(code=c) for c in big])
        assert len(stub.ScoreBatch(request, timeout=300).results) == len(big)
    for kind, results in answers.items():
        assert [r.id for r in results] == [f"{kind[0]}{i}" for i in range(len(codes))], kind
        for got, ref in zip(results, want, strict=True):
            assert got.tier == "fast" and got.n_tokens == ref.n_tokens, kind
            assert got.score == pytest.approx(ref.score, abs=TOL), kind
            assert dict(got.signals) == pytest.approx(dict(ref.signals), abs=TOL), kind
    # The work was done in the worker processes, both of them.
    assert all(cpu_s(p) > b + 0.2 for p, b in zip(pids, busy, strict=True))
    m = scrape(pooled.metrics_url)
    assert m["eduscore_pool_workers"] == 2 and m["eduscore_worker_restarts_total"] == 0
    assert health(pooled.address, "liveness") == health_pb2.HealthCheckResponse.SERVING


def _kill_mid_batch(server: RunningServer, codes: list[str]) -> tuple[object, int]:
    """Send `codes` in one ScoreBatch, SIGKILL the worker that is scoring it, return the call's
    outcome (the reply or its RpcError) and the pid killed."""
    (pid,) = workers_of(server.process.pid)
    outcome: list[object] = []

    def call() -> None:
        with grpc.insecure_channel(server.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            request = pb.ScoreBatchRequest(snippets=[pb.Snippet(code=c) for c in codes])
            try:
                outcome.append(stub.ScoreBatch(request, timeout=300))
            except grpc.RpcError as exc:
                outcome.append(exc)

    before = cpu_s(pid)
    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: cpu_s(pid) > before + 0.3, what="the worker never started the batch")
    os.kill(pid, signal.SIGKILL)
    caller.join(300)
    return outcome[0], pid


def test_a_worker_killed_mid_batch_answers_unavailable_and_is_replaced(
    tmp_path: Path, fast_scorer: Scorer
) -> None:
    server = start_server(tmp_path, "--tier", "fast", "--workers", "1", "--cache-size", "0")
    try:
        # Callers queued behind the doomed batch: never lost, never crossed.
        small = [f"def small_{i}(x):\n    return x - {i}\n" for i in range(12)]
        want = fast_scorer.score_batch([Snippet(code=c) for c in small])
        with grpc.insecure_channel(server.address) as ch, ThreadPoolExecutor(12) as pool:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            doomed = pool.submit(_kill_mid_batch, server, big_snippets(48, "killed"))
            time.sleep(0.5)
            queued = [pool.submit(stub.Score, pb.ScoreRequest(snippet=pb.Snippet(id=str(i),
                      code=c)), timeout=300) for i, c in enumerate(small)]  # fmt: skip
            outcome, killed = doomed.result(600)
            answers = [f.result(600) for f in queued]
        assert isinstance(outcome, grpc.RpcError), outcome
        assert outcome.code() == grpc.StatusCode.UNAVAILABLE
        assert "worker" in outcome.details() and "retry" in outcome.details()
        for i, (got, ref) in enumerate(zip(answers, want, strict=True)):
            assert got.id == str(i) and got.score == pytest.approx(ref.score, abs=TOL)
        # A new worker took over; the server stayed up and serves the next request.
        wait_for(lambda: workers_of(server.process.pid) not in ([], [killed]), what="no new worker")
        m = scrape_until(server.metrics_url, lambda m: m["eduscore_pool_workers"] == 1)
        assert m["eduscore_worker_restarts_total"] == 1 and m["eduscore_pool_workers"] == 1
        assert health(server.address) == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(server.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            reply = stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=TEXTBOOK)), timeout=60)
        ref = fast_scorer.score_batch([Snippet(code=TEXTBOOK)])[0]
        assert reply.score == pytest.approx(ref.score, abs=TOL)
        assert "lost a batch of" in server.log() and "replaced (pid" in server.log()
    finally:
        assert stop_server(server) == 0, server.log()


def test_a_worker_that_cannot_be_replaced_turns_the_server_not_serving(tmp_path: Path) -> None:
    """The model's fast tier vanishes under a running server; its worker then dies. No worker
    can load the model any more, so the server must not stay SERVING."""
    model = tmp_path / "model"
    model.mkdir()
    for name in ("metadata.json", "lexical.json", "calibration.json"):
        if (MODEL_DIR / name).exists():
            shutil.copy(MODEL_DIR / name, model / name)
    shutil.copytree(MODEL_DIR / "fast", model / "fast")
    server = start_server(tmp_path, "--tier", "fast", "--workers", "1", "--model-dir", str(model))
    try:
        (pid,) = workers_of(server.process.pid)
        (model / "fast" / "static" / "model.safetensors").unlink()
        os.kill(pid, signal.SIGKILL)  # idle: no batch in hand
        nope = health_pb2.HealthCheckResponse.NOT_SERVING
        wait_for(lambda: health(server.address) == nope, what="health stayed SERVING")
        assert health(server.address, "liveness") == nope  # a restart is what can help
        with grpc.insecure_channel(server.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            with pytest.raises(grpc.RpcError) as err:
                stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=TEXTBOOK)), timeout=60)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "cannot score" in server.log() and "model.safetensors" in server.log()
        assert scrape(server.metrics_url)["eduscore_ready"] == 0
    finally:
        stop_server(server)
