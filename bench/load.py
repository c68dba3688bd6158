"""Overload run: unary, batch and stream clients above capacity; nothing lost, refusals explicit.

    python -m bench.load [--seconds 180] [--unary 24] [--batchers 4] [--streamers 4]

Starts a real server on loopback (bounded queue), drives it from asyncio clients for a bounded
time, checks every answer against its request id, samples the server's RSS, and prints/writes
the figures. Loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eduscore.v1 import eduscore_pb2 as pb  # noqa: E402
from eduscore.v1 import eduscore_pb2_grpc  # noqa: E402
from tests.conftest import start_server, stop_server  # noqa: E402

_EXPLICIT = {"RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "UNAVAILABLE"}


@dataclass
class Tally:
    """What the clients saw."""

    requests: Counter[str] = field(default_factory=Counter)
    items_ok: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    mismatched: int = 0
    latencies: list[float] = field(default_factory=list)


_ids = itertools.count()


def snippet() -> pb.Snippet:
    n = next(_ids)
    body = "\n".join(f"    total += values[{i}] * {n % 7 + i}" for i in range(n % 40))
    code = (
        f"def weighted_sum_{n}(values: list[float]) -> float:\n"
        f'    """Weighted sum number {n}."""\n    total = 0.0\n{body}\n    return total\n'
    )
    return pb.Snippet(id=f"s{n}", code=code)


async def unary_client(stub, stop: float, t: Tally) -> None:
    while time.monotonic() < stop:
        s = snippet()
        started = time.monotonic()
        t.requests["unary"] += 1
        try:
            r = await stub.Score(pb.ScoreRequest(snippet=s), timeout=30)
            t.latencies.append(time.monotonic() - started)
            t.items_ok += 1
            t.mismatched += r.id != s.id
            t.outcomes["OK"] += 1
        except grpc.aio.AioRpcError as exc:
            t.outcomes[exc.code().name] += 1
            await asyncio.sleep(0.05)  # back off on refusal, as a well-behaved client does


async def batch_client(stub, stop: float, t: Tally, size: int = 32) -> None:
    while time.monotonic() < stop:
        snippets = [snippet() for _ in range(size)]
        started = time.monotonic()
        t.requests["batch"] += 1
        try:
            reply = await stub.ScoreBatch(pb.ScoreBatchRequest(snippets=snippets), timeout=60)
            t.latencies.append(time.monotonic() - started)
            t.items_ok += len(reply.results)
            t.mismatched += sum(r.id != s.id for r, s in zip(reply.results, snippets, strict=True))
            t.mismatched += len(reply.results) != len(snippets)
            t.outcomes["OK"] += 1
        except grpc.aio.AioRpcError as exc:
            t.outcomes[exc.code().name] += 1
            await asyncio.sleep(0.1)


async def stream_client(stub, stop: float, t: Tally, size: int = 100) -> None:
    while time.monotonic() < stop:
        snippets: list[pb.Snippet] = []
        t.requests["stream"] += 1
        started = time.monotonic()
        got = []

        def requests(snippets: list[pb.Snippet] = snippets):  # ends at the stop time
            for _ in range(size):
                if time.monotonic() >= stop:
                    return
                snippets.append(snippet())
                yield pb.ScoreRequest(snippet=snippets[-1])

        try:
            async for r in stub.ScoreStream(requests(), timeout=120):
                got.append(r.id)
            t.latencies.append(time.monotonic() - started)
            t.outcomes["OK"] += 1
            ok = True
        except grpc.aio.AioRpcError as exc:
            t.outcomes[exc.code().name] += 1
            ok = False
        t.items_ok += len(got)
        t.mismatched += sum(a != s.id for a, s in zip(got, snippets, strict=False))
        if ok:  # a stream that ended OK answered every request it sent
            t.mismatched += len(got) != len(snippets)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_trend(rss: list[float]) -> dict:
    """Whether RSS levels off: per-minute max/median and the slope over the second half.

    RSS swings by ~150 MiB as PyTorch frees and re-allocates batch tensors, so the max of a
    window rises with its length; the median and the late slope are what show a leak.
    """
    minutes = [rss[i : i + 60] for i in range(0, len(rss), 60)]
    late = np.asarray(rss[len(rss) // 2 :])
    slope = float(np.polyfit(np.arange(len(late)) / 60.0, late, 1)[0]) if len(late) > 60 else None
    return {
        "per_minute_max": [round(max(m), 1) for m in minutes],
        "per_minute_median": [round(float(np.median(m)), 1) for m in minutes],
        "second_half_slope_mib_per_min": slope,
    }


async def drive(
    address: str, pid: int, seconds: float, unary: int, batchers: int, streamers: int
) -> dict:
    t = Tally()
    rss: list[float] = [rss_mib(pid)]
    stop = time.monotonic() + seconds
    async with grpc.aio.insecure_channel(address) as ch:
        stub = eduscore_pb2_grpc.EduScorerStub(ch)

        async def sample() -> None:
            while time.monotonic() < stop:
                await asyncio.sleep(1.0)
                rss.append(rss_mib(pid))

        await asyncio.gather(
            sample(),
            *(unary_client(stub, stop, t) for _ in range(unary)),
            *(batch_client(stub, stop, t) for _ in range(batchers)),
            *(stream_client(stub, stop, t) for _ in range(streamers)),
        )
        health = await health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        after = await stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code="x = 1")), timeout=30)
    errors = {k: v for k, v in t.outcomes.items() if k != "OK"}
    third = max(len(rss) // 3, 1)
    return {
        "seconds": seconds,
        "clients": {"unary": unary, "batch": batchers, "stream": streamers},
        "requests": dict(t.requests),
        "outcomes": dict(t.outcomes),
        "items_scored": t.items_ok,
        "items_per_s": t.items_ok / seconds,
        "mismatched": t.mismatched,
        "unexplained_errors": {k: v for k, v in errors.items() if k not in _EXPLICIT},
        "p50_ms": float(np.percentile(t.latencies, 50) * 1000) if t.latencies else None,
        "p99_ms": float(np.percentile(t.latencies, 99) * 1000) if t.latencies else None,
        "rss_mib": {
            "start": rss[0],
            "first_third_max": max(rss[:third]),
            "last_third_max": max(rss[-third:]),
            "max": max(rss),
            **rss_trend(rss),
        },
        "healthy_after": health.status == health_pb2.HealthCheckResponse.SERVING,
        "answers_after": after.score >= 0,
    }


def run(
    seconds: float,
    unary: int,
    batchers: int,
    streamers: int,
    tmp: Path,
    server_args: tuple[str, ...] = ("--max-queue-size", "256"),
    env: dict[str, str] | None = None,
) -> dict:
    srv = start_server(tmp, *server_args, env=env)
    try:
        return asyncio.run(drive(srv.address, srv.process.pid, seconds, unary, batchers, streamers))
    finally:
        code = stop_server(srv)
        if code != 0:
            raise RuntimeError(f"server exited {code}:\n{srv.log()[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--unary", type=int, default=24)
    parser.add_argument("--batchers", type=int, default=4)
    parser.add_argument("--streamers", type=int, default=4)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="server environment, e.g. "
        "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 (repeatable)",
    )
    parser.add_argument(
        "--server-arg", action="append", default=[], help="extra serve flag (repeatable)"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = run(
            args.seconds,
            args.unary,
            args.batchers,
            args.streamers,
            Path(tmp),
            ("--max-queue-size", "256", *args.server_arg),
            dict(kv.split("=", 1) for kv in args.env),
        )
        report["server_args"] = args.server_arg
        report["server_env"] = args.env
    print(json.dumps(report, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    ok = report["mismatched"] == 0 and not report["unexplained_errors"] and report["healthy_after"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
