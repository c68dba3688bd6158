"""The tiers side by side on the bench's set: in-process rates, a fast-only server (its worker
pool, and one core as before it), the cascade at the thresholds users set.

Every rate is also a ratio to the full tier's in-process ceiling measured in the same run, next
to each tier's grouped-CV F1 from the model's metadata and the cascade's escalated share.

    python -m bench.tiers [--n 300] [--out bench/results/tiers-latest.json]

runs only these (with the ceiling): the quick way to repeat them and quote medians.
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

from bench.measure import stages, tree_peak_rss_mib
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc

#: Fast work is ~100x cheaper per snippet: the set is repeated until a measurement lasts this.
MIN_SECONDS = 5.0
#: The keep lines users set (README: 2.5-3.5); the cascade's band follows each.
THRESHOLDS = (2.5, 3.0, 3.5)


def rate_in_process(
    scorer: Scorer, codes: list[str], tier: str, size: int, threshold: float | None = None
) -> dict[str, float]:
    """Snippets/s of score_batch at `size` for one tier (warm), and the share it escalated."""
    snippets = [Snippet(code=c, tier=tier) for c in codes]
    scorer.score_batch(snippets[:size], threshold)
    done, escalated, t = 0, 0, time.perf_counter()
    while True:
        for i in range(0, len(snippets), size):
            results = scorer.score_batch(snippets[i : i + size], threshold)
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


def served_batch(
    stub: Any,
    codes: list[str],
    tier: str,
    size: int,
    flight: int = 2,
    threshold: float | None = None,
) -> float:
    """Snippets/s of ScoreBatch calls naming `tier`, `flight` in flight, over >= MIN_SECONDS."""
    from concurrent.futures import ThreadPoolExecutor

    def call(i: int) -> None:
        chunk = codes[i : i + size]
        request = pb.ScoreBatchRequest(
            snippets=[pb.Snippet(id=str(j), code=c) for j, c in enumerate(chunk)], tier=tier
        )
        if threshold is not None:
            request.threshold = threshold
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


def fast_server(tmp: Path, codes: list[str], size: int, *extra: str) -> dict[str, Any]:
    """A server started with --tier fast (and `extra` flags): time to SERVING, ScoreBatch and
    stream rates, peak RSS of the server process and of all its processes together."""
    from tests.conftest import start_server, stop_server

    t = time.perf_counter()
    srv = start_server(tmp, "--tier", "fast", "--cache-size", "0", *extra, wait=False)
    ready_s = _until_serving(srv.address, t)
    try:
        with grpc.insecure_channel(srv.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            out = {
                "args": list(extra),
                "ready_s": ready_s,
                "ScoreBatch": served_batch(stub, codes, "", size),
                "ScoreStream": served_stream(stub, codes, ""),
            }
        rss = tree_peak_rss_mib(srv.process.pid)
        out["peak_rss_mib"], out["server_rss_mib"] = rss["total"], rss["server"]
        out["processes"] = rss["processes"]
        out["torch_loaded"] = "libtorch" in Path(f"/proc/{srv.process.pid}/maps").read_text()
    finally:
        stop_server(srv)
    return out


def cascade_lines(stub: Any, scorer: Scorer, codes: list[str]) -> dict[str, Any]:
    """The cascade at each of THRESHOLDS: in-process and served (ScoreBatch of 64, x2) rates,
    the share of the set escalated, and on the saved out-of-fold scores of both tiers the share
    of keep decisions unlike the full tier's (held-out code: no head saw its unit)."""
    out = {}
    for line in THRESHOLDS:
        inproc = rate_in_process(scorer, codes, "cascade", 64, threshold=line)
        served = served_batch(stub, codes, "cascade", 64, threshold=line) if stub else None
        out[str(line)] = {**inproc, "served_per_s": served, **oof_agreement(scorer, line)}
    return out


def oof_agreement(scorer: Scorer, line: float) -> dict[str, float]:
    """The band the scorer applies at `line`, and out of fold: the cascade's share of keep
    decisions equal to the full tier's, and the share of units it escalates."""
    import numpy as np

    from eduscore.training import cascade
    from tests.conftest import MODEL_DIR

    full, fast = (
        np.asarray(json.loads((d / "oof.json").read_text())["scores"])
        for d in (MODEL_DIR, MODEL_DIR / "fast")
    )
    band = scorer.band_for(line)
    assert band is not None
    mixed, share = cascade.cascade_scores(fast, full, band)
    agree = 1.0 - cascade.disagreement(mixed, full, line)
    return {"band": list(band), "oof_agreement": agree, "oof_escalated_share": share}


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


def full_server_fast(tmp: Path, codes: list[str], workers: int) -> dict[str, Any]:
    """A full server with `--workers`: its fast-tier and its full-tier ScoreBatch rates (the
    question of whether a full or cascade server should give its fast requests a pool)."""
    from tests.conftest import start_server, stop_server

    srv = start_server(tmp, "--cache-size", "0", "--workers", str(workers))
    try:
        with grpc.insecure_channel(srv.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            out = {
                "workers": workers,
                "fast_per_s": served_batch(stub, codes, "fast", 256),
                "full_per_s": served_batch(stub, codes[:128], "full", 64),
            }
        out["peak_rss_mib"] = tree_peak_rss_mib(srv.process.pid)["total"]
    finally:
        stop_server(srv)
    return out


def main() -> int:
    import argparse
    import os

    from bench.measure import ceiling, load_set
    from bench.stamp import stamp
    from tests.conftest import MODEL_DIR, start_server, stop_server

    ap = argparse.ArgumentParser(prog="python -m bench.tiers")
    ap.add_argument("--n", type=int, default=300, help="snippets in the fixed set")
    ap.add_argument("--out", default="bench/results/tiers-latest.json")
    ap.add_argument("--full-server-pool", action="store_true", help="also full servers, -w 0/2")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    codes, tmp = load_set(args.n), Path(tempfile.mkdtemp())
    report: dict[str, Any] = {**stamp(MODEL_DIR, tier="fast"), "n": len(codes)}
    scorer = Scorer.load(str(MODEL_DIR))
    report["ceiling"] = best = max(ceiling(scorer, codes, (32, 64), repeats=1).values())
    report["fast_in_process"] = rate_in_process(scorer, codes, "fast", 256)
    report["fast_stages_s"] = fast_stages(scorer, codes)
    srv = start_server(tmp, "--cache-size", "0")
    try:
        with grpc.insecure_channel(srv.address) as ch:
            report["cascade"] = cascade_lines(eduscore_pb2_grpc.EduScorerStub(ch), scorer, codes)
    finally:
        stop_server(srv)
    del scorer
    report["fast_server"] = fast_server(tmp, codes, 256)
    report["fast_server_one_core"] = fast_server(tmp, codes, 256, "--workers", "0")
    if args.full_server_pool:
        report["full_server"] = [full_server_fast(tmp, codes, w) for w in (0, 2)]
    print_report(report, best)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def print_report(r: dict[str, Any], best: float) -> None:
    print(f"ceiling {best:.1f}/s; fast in-process {r['fast_in_process']['per_s'] / best:.1f}x")
    for key in ("fast_server", "fast_server_one_core"):
        f = r[key]
        print(f"{key} {f['args']}: ScoreBatch {f['ScoreBatch'] / best:.1f}x, ScoreStream"
              f" {f['ScoreStream'] / best:.1f}x, peak RSS {f['peak_rss_mib']:.0f} MiB in"
              f" {f['processes']} processes (server {f['server_rss_mib']:.0f})")  # fmt: skip
    for line, c in r["cascade"].items():
        print(f"cascade at {line}: band {c['band']}, in-process {c['per_s'] / best:.1f}x, served"
              f" {c['served_per_s'] / best:.1f}x, {c['escalated_share']:.1%} of the set escalated;"
              f" out of fold {c['oof_agreement']:.2%} of decisions as full,"
              f" {c['oof_escalated_share']:.1%} escalated")  # fmt: skip
    for f in r.get("full_server", []):
        print(f"full server --workers {f['workers']}: tier=fast {f['fast_per_s'] / best:.1f}x,"
              f" full {f['full_per_s'] / best:.2f}x, RSS {f['peak_rss_mib']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
