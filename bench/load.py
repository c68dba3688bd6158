"""Overload run: unary, batch and stream clients above capacity; nothing lost, refusals explicit.

    python -m bench.load [--seconds 180] [--unary 24] [--batchers 4] [--streamers 4]

Starts a real server on loopback (bounded queue, result cache off), scores each snippet of a
pool of distinct ones alone, then drives it from asyncio clients for a bounded time with
snippets drawn from the pool in random order; every answer is checked against its request id
and against that snippet's own score and n_tokens (each distinct in the pool, so a result
handed to the wrong request is counted). Samples the server's RSS and prints/writes the figures.
Loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import random
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
from bench.stamp import stamp  # noqa: E402
from eduscore.v1 import eduscore_pb2 as pb  # noqa: E402
from eduscore.v1 import eduscore_pb2_grpc  # noqa: E402
from tests.conftest import MODEL_DIR, start_server, stop_server  # noqa: E402

_EXPLICIT = {"RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "UNAVAILABLE"}
#: float32 on the wire; batch padding may move the last bits of an embedding.
TOL = 1e-4
#: Distinct snippets the clients draw from; the cache is off, so each draw reaches the model.
POOL = 64
#: Big snippets for --big clients (batches of 8 x ~400 KB, as in issue 16's byte-budget case).
BIG_SNIPPETS, BIG_KB = 4, 400
DEFAULT_SERVER_ARGS = (
    "--max-queue-size",
    "256",
    "--max-batch-snippets",
    "256",
    "--cache-size",
    "0",
)


@dataclass
class Tally:
    """What the clients saw."""

    requests: Counter[str] = field(default_factory=Counter)
    items_ok: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    mismatched: int = 0
    latencies: list[float] = field(default_factory=list)


_ids = itertools.count()


def pool(n: int = POOL) -> list[str]:
    """Distinct snippets of distinct lengths: each has its own n_tokens."""
    return [
        f"def weighted_sum_{i}(values: list[float]) -> float:\n"
        f'    """Weighted sum number {i}."""\n    total = 0.0\n'
        + "".join(f"    total += values[{k}] * {i % 7 + k}\n" for k in range(i))
        + "    return total\n"
        for i in range(n)
    ]


def big_pool(n: int, kb: int) -> list[str]:
    """`n` distinct snippets of about `kb` KB (a small function under a long comment block):
    what a pipeline sends when it feeds whole files, and what the byte budget is for."""
    out = []
    for i in range(n):
        head = f"def big_{i}(x: int) -> int:\n    return x * {i + 2}\n"
        filler = "".join(
            f"# filler {i} line {j}: " + "x" * 60 + "\n" for j in range(kb * 1024 // 80)
        )
        out.append(head + filler)
    return out


@dataclass
class Traffic:
    """The pool, each snippet's result scored alone, and a seeded draw."""

    codes: list[str]
    alone: list[pb.ScoreResult]
    rng: random.Random = field(default_factory=lambda: random.Random(16))
    #: How many of `codes` are the small pool; the big snippets follow them (None: all small).
    n_small: int | None = None

    def snippet(self, big: bool = False) -> pb.Snippet:
        """A draw from the small pool, or (big) from the big snippets after it."""
        n_small = len(self.codes) if self.n_small is None else self.n_small
        lo, hi = (n_small, len(self.codes)) if big else (0, n_small)
        i = self.rng.randrange(lo, hi)
        return pb.Snippet(id=f"{next(_ids)}:{i}", code=self.codes[i])

    def wrong(self, sent: pb.Snippet, got: pb.ScoreResult) -> bool:
        """Whether `got` is not `sent`'s own result (id, n_tokens, score and signals as scored
        alone)."""
        want = self.alone[int(sent.id.rpartition(":")[2])]
        return (
            got.id != sent.id
            or got.n_tokens != want.n_tokens
            or abs(got.score - want.score) > TOL
            or any(abs(got.signals.get(k, math.inf) - v) > TOL for k, v in want.signals.items())
        )


async def score_alone(stub, codes: list[str], n_small: int = POOL) -> list[pb.ScoreResult]:
    """Each snippet scored by itself on the idle server: the reference for every later answer."""
    alone = []
    for code in codes:
        req = pb.ScoreRequest(snippet=pb.Snippet(code=code))
        alone.append(await stub.Score(req, timeout=60))
    # A crossed result shows if no two snippets share token count, score and signals (the fast
    # tier's trees give near-identical snippets one score, and its counts may coincide).
    prints = {
        (r.n_tokens, round(r.score, 3), *(round(r.signals[k], 3) for k in sorted(r.signals)))
        for r in alone[:n_small]
    }
    if len(prints) != n_small:
        raise RuntimeError("pool snippets share their results: a crossed result could hide")
    return alone


async def unary_client(stub, stop: float, t: Tally, traffic: Traffic) -> None:
    while time.monotonic() < stop:
        s = traffic.snippet()
        started = time.monotonic()
        t.requests["unary"] += 1
        try:
            r = await stub.Score(pb.ScoreRequest(snippet=s), timeout=30)
            t.latencies.append(time.monotonic() - started)
            t.items_ok += 1
            t.mismatched += traffic.wrong(s, r)
            t.outcomes["OK"] += 1
        except grpc.aio.AioRpcError as exc:
            t.outcomes[exc.code().name] += 1
            await asyncio.sleep(0.05)  # back off on refusal, as a well-behaved client does


async def batch_client(
    stub, stop: float, t: Tally, traffic: Traffic, size: int = 32, big: bool = False
) -> None:
    while time.monotonic() < stop:
        snippets = [traffic.snippet(big) for _ in range(size)]
        started = time.monotonic()
        t.requests["batch"] += 1
        try:
            reply = await stub.ScoreBatch(pb.ScoreBatchRequest(snippets=snippets), timeout=60)
            t.latencies.append(time.monotonic() - started)
            t.items_ok += len(reply.results)
            t.mismatched += len(reply.results) != len(snippets)
            t.mismatched += sum(
                traffic.wrong(s, r) for r, s in zip(reply.results, snippets, strict=False)
            )
            t.outcomes["OK"] += 1
        except grpc.aio.AioRpcError as exc:
            t.outcomes[exc.code().name] += 1
            await asyncio.sleep(0.1)


async def stream_client(stub, stop: float, t: Tally, traffic: Traffic, size: int = 100) -> None:
    while time.monotonic() < stop:
        snippets: list[pb.Snippet] = []
        t.requests["stream"] += 1
        started = time.monotonic()
        got = []

        def requests(snippets: list[pb.Snippet] = snippets):  # ends at the stop time
            for _ in range(size):
                if time.monotonic() >= stop:
                    return
                snippets.append(traffic.snippet())
                yield pb.ScoreRequest(snippet=snippets[-1])

        try:
            async for r in stub.ScoreStream(requests(), timeout=120):
                got.append(r)
            t.latencies.append(time.monotonic() - started)
            t.outcomes["OK"] += 1
            ok = True
        except grpc.aio.AioRpcError as exc:
            t.outcomes[exc.code().name] += 1
            ok = False
        t.items_ok += len(got)
        t.mismatched += sum(traffic.wrong(s, r) for r, s in zip(got, snippets, strict=False))
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
    address: str,
    pid: int,
    seconds: float,
    unary: int,
    batchers: int,
    streamers: int,
    big: int = 0,
) -> dict:
    t = Tally()
    opts = [
        ("grpc.max_send_message_length", 64 << 20),
        ("grpc.max_receive_message_length", 64 << 20),
    ]
    async with grpc.aio.insecure_channel(address, options=opts) as ch:
        stub = eduscore_pb2_grpc.EduScorerStub(ch)
        codes = pool() + big_pool(BIG_SNIPPETS, BIG_KB) if big else pool()
        traffic = Traffic(codes, await score_alone(stub, codes), n_small=POOL)
        rss: list[float] = [rss_mib(pid)]
        stop = time.monotonic() + seconds

        async def sample() -> None:
            while time.monotonic() < stop:
                await asyncio.sleep(1.0)
                rss.append(rss_mib(pid))

        await asyncio.gather(
            sample(),
            *(unary_client(stub, stop, t, traffic) for _ in range(unary)),
            *(batch_client(stub, stop, t, traffic) for _ in range(batchers)),
            *(stream_client(stub, stop, t, traffic) for _ in range(streamers)),
            *(batch_client(stub, stop, t, traffic, 8, big=True) for _ in range(big)),
        )
        health = await health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        last = traffic.snippet()
        # Calls still queued when the clients stop are answered first: allow for the backlog.
        drained = time.monotonic()
        after = await stub.Score(pb.ScoreRequest(snippet=last), timeout=180)
        drain_s = time.monotonic() - drained
    errors = {k: v for k, v in t.outcomes.items() if k != "OK"}
    third = max(len(rss) // 3, 1)
    return {
        "seconds": seconds,
        "clients": {"unary": unary, "batch": batchers, "stream": streamers, "big_batch": big},
        "big_snippets": {"n": BIG_SNIPPETS, "kb": BIG_KB} if big else None,
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
        "answers_after": not traffic.wrong(last, after),
        "answer_after_s": round(drain_s, 2),
    }


def run(
    seconds: float,
    unary: int,
    batchers: int,
    streamers: int,
    tmp: Path,
    server_args: tuple[str, ...] = DEFAULT_SERVER_ARGS,
    env: dict[str, str] | None = None,
    big: int = 0,
) -> dict:
    srv = start_server(tmp, *server_args, env=env)
    try:
        clients = (unary, batchers, streamers, big)
        return asyncio.run(drive(srv.address, srv.process.pid, seconds, *clients))
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
        "--big", type=int, default=0, help="clients sending batches of 8 x ~400 KB snippets"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="server environment, e.g. "
        "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 (repeatable)",
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help=f"extra serve flag, after {' '.join(DEFAULT_SERVER_ARGS)} (repeatable;"
        " e.g. --server-arg=--cache-size --server-arg=20000 to measure with the cache)",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    args = parser.parse_args()
    import tempfile

    served = (*DEFAULT_SERVER_ARGS, *args.server_arg)
    tier = served[served.index("--tier") + 1] if "--tier" in served else "full"
    with tempfile.TemporaryDirectory() as tmp:
        report = {**stamp(MODEL_DIR, tier=tier)}
        report |= run(
            args.seconds,
            args.unary,
            args.batchers,
            args.streamers,
            Path(tmp),
            served,
            dict(kv.split("=", 1) for kv in args.env),
            args.big,
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
