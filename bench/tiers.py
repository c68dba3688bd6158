"""The tiers side by side on the bench's set: in-process rates, a fast-only server, the cascade.

Every rate is also a ratio to the full tier's in-process ceiling measured in the same run, next
to each tier's grouped-CV F1 from the model's metadata and the cascade's escalated share.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

from bench.measure import peak_rss_mib, stages
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

#: Fast work is ~100x cheaper per snippet: the set is repeated until a measurement lasts this.
MIN_SECONDS = 5.0


def rate_in_process(scorer: Scorer, codes: list[str], tier: str, size: int) -> dict[str, float]:
    """Snippets/s of score_batch at `size` for one tier (warm), and the share it escalated."""
    snippets = [Snippet(code=c, tier=tier) for c in codes]
    scorer.score_batch(snippets[:size])
    done, escalated, t = 0, 0, time.perf_counter()
    while True:
        for i in range(0, len(snippets), size):
            results = scorer.score_batch(snippets[i : i + size])
            escalated += sum(r.tier == "full" for r in results)
        done += len(snippets)
        took = time.perf_counter() - t
        if tier == "full" or took >= MIN_SECONDS:
            return {"per_s": done / took, "escalated_share": escalated / done}


def fast_stages(scorer: Scorer, codes: list[str], size: int = 256) -> dict[str, float]:
    """Seconds per stage of the fast tier over the set: static table, signals, lexical, head."""
    took = stages(scorer, codes, size, tier="fast", repeats=1)
    took["static"] = took.pop("encoder")
    took.pop("total_over_encoder")
    return took


def served_batch(stub: Any, codes: list[str], tier: str, size: int, flight: int = 2) -> float:
    """Snippets/s of ScoreBatch calls naming `tier`, `flight` in flight, over >= MIN_SECONDS."""
    from concurrent.futures import ThreadPoolExecutor

    def call(i: int) -> None:
        chunk = codes[i : i + size]
        request = pb.ScoreBatchRequest(
            snippets=[pb.Snippet(id=str(j), code=c) for j, c in enumerate(chunk)], tier=tier
        )
        reply = stub.ScoreBatch(request, timeout=600)
        assert len(reply.results) == len(chunk)

    done, t = 0, time.perf_counter()
    with ThreadPoolExecutor(flight) as pool:
        while True:
            list(pool.map(call, range(0, len(codes), size)))
            done += len(codes)
            if time.perf_counter() - t >= MIN_SECONDS or tier == "full":
                return done / (time.perf_counter() - t)


def served_stream(stub: Any, codes: list[str], tier: str) -> float:
    reqs = [pb.ScoreRequest(snippet=pb.Snippet(id=str(i), code=c), tier=tier) for i, c in
            enumerate(codes)]  # fmt: skip
    done, t = 0, time.perf_counter()
    while time.perf_counter() - t < MIN_SECONDS:
        done += sum(1 for _ in stub.ScoreStream(iter(reqs), timeout=600))
    return done / (time.perf_counter() - t)


def _until_serving(address: str, since: float, timeout_s: float = 60.0) -> float:
    """Seconds from `since` to health SERVING, polled every 10 ms (the tests poll every 250)."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    # gRPC backs off ~1 s between connection attempts by default: far coarser than the start.
    fast = [(f"grpc.{k}_reconnect_backoff_ms", 10) for k in ("initial", "min", "max")]
    with grpc.insecure_channel(address, options=fast) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        while time.perf_counter() - since < timeout_s:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return time.perf_counter() - since
            except grpc.RpcError:
                pass
            time.sleep(0.01)
    raise TimeoutError(f"{address} not SERVING after {timeout_s} s")


def fast_server(tmp: Path, codes: list[str], size: int) -> dict[str, Any]:
    """A server started with --tier fast: time to SERVING, ScoreBatch and stream rates, RSS."""
    from tests.conftest import start_server, stop_server

    t = time.perf_counter()
    srv = start_server(tmp, "--tier", "fast", "--cache-size", "0", wait=False)
    ready_s = _until_serving(srv.address, t)
    try:
        with grpc.insecure_channel(srv.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            out = {
                "ready_s": ready_s,
                "ScoreBatch": served_batch(stub, codes, "", size),
                "ScoreStream": served_stream(stub, codes, ""),
            }
        out["peak_rss_mib"] = peak_rss_mib(srv.process.pid)
        out["torch_loaded"] = "libtorch" in Path(f"/proc/{srv.process.pid}/maps").read_text()
    finally:
        stop_server(srv)
    return out


def filter_fast(codes: list[str], workers: int = 0) -> dict[str, float]:
    """`eduscore filter --tier fast` in-process end to end (read, score, write) over the set
    repeated to >= 3,000 rows; the wall time of the whole command, start-up included."""
    rows = [{"id": str(i), "code": c} for i, c in enumerate(codes)]
    rows = (rows * (3000 // len(rows) + 1))[:3000]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "in.jsonl"), Path(tmp, "out.jsonl")
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        cmd = [sys.executable, "-m", "eduscore", "filter", "--input", str(src),
               "--output", str(dst), "--tier", "fast"]  # fmt: skip
        cmd += ["--workers", str(workers)] if workers else []
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        took = time.perf_counter() - t
        written = sum(1 for _ in dst.open())
    return {"rows": len(rows), "written": written, "seconds": took, "per_s": len(rows) / took}


def cv_of(meta: dict[str, Any]) -> dict[str, Any]:
    """Each tier's grouped-CV F1 and Spearman, and the cascade's band and escalated share."""
    tiers = meta.get("tiers", {})
    out = {name: {k: row["cv"].get(k) for k in ("f1_keep", "spearman")} for name, row in
           tiers.items()}  # fmt: skip
    if "cascade" in tiers:
        out["cascade"]["band"] = tiers["cascade"]["band"]
        out["cascade"]["escalated_share_cv"] = tiers["cascade"]["escalated_share"]
    return out
