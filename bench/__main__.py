"""Throughput and latency of the service against the in-process ceiling, in one run.

    python -m bench [--n 300] [--out bench/results/latest.json]

1. ceiling: in-process Scorer.score_batch over the set, at its best batch size;
2. the served set over loopback: ScoreBatch, ScoreStream, 1/4/16 concurrent unary clients;
3. single-snippet latency on an idle server vs one in-process call;
4. the same set sent twice (result cache);
5. peak RSS of the server process;
6. the tiers (bench/tiers.py): fast and cascade in-process, through the full server per request
   (the cascade at thresholds 2.5, 3.0 and 3.5, with its out-of-fold agreement with the full
   tier at each), a fast-only server with its worker pool and with one core (--workers 0), the
   peak RSS of all its processes, and `eduscore filter --tier fast`.
Every throughput is printed as a ratio to the ceiling measured in this same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import tiers as tiers_bench  # noqa: E402
from bench.measure import (  # noqa: E402
    ceiling,
    load_set,
    pct,
    peak_rss_mib,
    run_batch,
    run_stream,
    run_unary,
    stages,
)
from bench.stamp import stamp  # noqa: E402
from eduscore.scoring.scorer import Scorer, Snippet  # noqa: E402
from eduscore.v1 import eduscore_pb2 as pb  # noqa: E402
from eduscore.v1 import eduscore_pb2_grpc  # noqa: E402
from tests.conftest import MODEL_DIR, start_server, stop_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--n", type=int, default=300, help="snippets in the fixed set")
    parser.add_argument("--batch", type=int, default=64, help="snippets per ScoreBatch call")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    parser.add_argument("--server-args", default="", help="extra flags for eduscore serve")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    codes = load_set(args.n)
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    report: dict = {**stamp(MODEL_DIR), "n": len(codes)}

    print(f"set: {len(codes)} snippets; measuring the in-process ceiling...", flush=True)
    scorer = Scorer.load(str(MODEL_DIR))
    ceil = ceiling(scorer, codes, (16, 32, 64))
    best = max(ceil.values())
    one = Snippet(code=codes[len(codes) // 2])
    inproc_single = [0.0] * 21
    for i in range(21):
        t = time.perf_counter()
        scorer.score_batch([one])
        inproc_single[i] = time.perf_counter() - t
    report["ceiling"] = {
        "per_batch_size": ceil,
        "best": best,
        "single_p50_ms": pct(inproc_single, 50),
    }
    report["stages_s"] = stages(scorer, codes)
    has_fast = "fast" in scorer.tiers
    if has_fast:
        print("fast and cascade tiers in-process...", flush=True)
        report["tiers"] = {
            "cv": tiers_bench.cv_of(scorer.metadata),
            "in_process": {
                "full": {"per_s": best, "escalated_share": 1.0},
                "fast": tiers_bench.rate_in_process(scorer, codes, "fast", 256),
                "cascade": tiers_bench.rate_in_process(scorer, codes, "cascade", 64),
            },
            "fast_stages_s": tiers_bench.fast_stages(scorer, codes),
            "cascade_lines": {
                str(t): {
                    **tiers_bench.rate_in_process(scorer, codes, "cascade", 64, threshold=t),
                    **tiers_bench.oof_agreement(scorer, t),
                }
                for t in tiers_bench.THRESHOLDS
            },
        }
    del scorer

    extra = args.server_args.split()
    srv = start_server(tmp, "--cache-size", "0", *extra)
    rows: list[tuple[str, float, list[float] | None]] = []
    try:
        with grpc.insecure_channel(srv.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code="x = 1")), timeout=60)
            single = []
            for _ in range(21):
                t = time.perf_counter()
                stub.Score(pb.ScoreRequest(snippet=pb.Snippet(code=one.code)), timeout=60)
                single.append(time.perf_counter() - t)
            report["single_p50_ms"] = pct(single, 50)
            print("ScoreBatch...", flush=True)
            for flight in (1, 2):
                rate = run_batch(stub, codes, args.batch, flight)
                rows.append((f"ScoreBatch ({args.batch}/call, x{flight})", rate, None))
            print("ScoreStream...", flush=True)
            rows.append(("ScoreStream", run_stream(stub, codes), None))
            if has_fast:
                print("per-request tiers on the full server...", flush=True)
                rate = tiers_bench.served_batch(stub, codes, "fast", 256)
                rows.append(("ScoreBatch tier=fast (256/call, x2)", rate, None))
                for t, line in report["tiers"]["cascade_lines"].items():
                    rate = tiers_bench.served_batch(stub, codes, "cascade", 64, threshold=float(t))
                    line["served_per_s"] = rate
                    name = f"ScoreBatch tier=cascade threshold={t} (64/call, x2)"
                    rows.append((name, rate, None))
        for clients in (1, 4, 16):
            print(f"{clients} unary clients...", flush=True)
            rate, lat = run_unary(srv.address, codes, clients)
            rows.append((f"Score x{clients} clients", rate, lat))
        report["server_peak_rss_mib"] = peak_rss_mib(srv.process.pid)
    finally:
        stop_server(srv)

    # The VM's speed drifts between phases (steal time): the ceiling once more, after the
    # served runs, shows how much of a ratio is the machine rather than the service.
    scorer = Scorer.load(str(MODEL_DIR))
    size = max(ceil, key=ceil.__getitem__)
    report["ceiling"]["after_served"] = ceiling(scorer, codes, (int(size),), repeats=1)[size]
    del scorer

    srv = start_server(tmp, *extra)
    try:
        with grpc.insecure_channel(srv.address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            first = run_batch(stub, codes, args.batch)
            second = run_batch(stub, codes, args.batch)
        report["cache"] = {"first_per_s": first, "repeat_per_s": second, "speedup": second / first}
    finally:
        stop_server(srv)

    if has_fast:
        print("fast-only servers...", flush=True)
        fast = tiers_bench.fast_server(tmp, codes, 256)
        one = tiers_bench.fast_server(tmp, codes, 256, "--workers", "0")
        report["tiers"]["fast_server"], report["tiers"]["fast_server_one_core"] = fast, one
        pool = f"fast server ({fast['processes'] - 2} workers)"  # less itself and the tracker
        rows.append((f"{pool}: ScoreBatch (256, x2)", fast["ScoreBatch"], None))
        rows.append((f"{pool}: ScoreStream", fast["ScoreStream"], None))
        rows.append(("fast server --workers 0: ScoreBatch (256, x2)", one["ScoreBatch"], None))
        rows.append(("fast server --workers 0: ScoreStream", one["ScoreStream"], None))
        print("eduscore filter --tier fast...", flush=True)
        filtered = tiers_bench.filter_fast(codes)
        report["tiers"]["filter_fast"] = filtered
        rows.append(("filter --tier fast (in-process)", filtered["per_s"], None))

    report["rows"] = [
        {
            "scenario": name,
            "per_s": rate,
            "ratio": rate / best,
            **(
                {"p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99)}
                if lat
                else {}
            ),
        }
        for name, rate, lat in rows
    ]
    print_table(report)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


def print_table(r: dict) -> None:
    by_size = ", ".join(f"{k}: {v:.1f}" for k, v in r["ceiling"]["per_batch_size"].items())
    m = r["machine"]
    print(f"\n{r['commit'][:12]} model {r['model_version']} tier {r['tier']} on {r['device']}")
    print(f"machine: {m['cpus']} cpus ({m['cpu_model']}), {m['platform']}; set: {r['n']}")
    st = r["stages_s"]
    print(
        f"per stage over the set: encoder {st['encoder']:.2f} s, signals {st['signals']:.2f} s,"
        f" lexical {st.get('lexical', 0.0):.3f} s, head {st['head']:.3f} s: the scorer costs"
        f" {st['total_over_encoder']:.3f}x the encoder"
    )
    print(
        f"ceiling (in-process Scorer): {r['ceiling']['best']:.1f} snippets/s "
        f"(by batch size: {by_size}; after the served runs:"
        f" {r['ceiling'].get('after_served', float('nan')):.1f})"
    )
    print(
        f"{'scenario':<30}{'snippets/s':>11}{'x ceiling':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}"
    )
    for row in r["rows"]:
        lat = "".join(f"{row.get(k, float('nan')):>9.0f}" for k in ("p50_ms", "p95_ms", "p99_ms"))
        print(f"{row['scenario']:<30}{row['per_s']:>11.1f}{row['ratio']:>10.2f}{lat}")
    print(
        f"single snippet, idle: served p50 {r['single_p50_ms']:.1f} ms vs in-process "
        f"{r['ceiling']['single_p50_ms']:.1f} ms "
        f"({r['single_p50_ms'] / r['ceiling']['single_p50_ms']:.2f}x)"
    )
    c = r["cache"]
    print(
        f"repeated set: {c['first_per_s']:.1f} -> {c['repeat_per_s']:.1f} snippets/s "
        f"({c['speedup']:.0f}x)"
    )
    print(f"server peak RSS: {r['server_peak_rss_mib']:.0f} MiB")
    if "tiers" in r:
        print_tiers(r)


def print_tiers(r: dict) -> None:
    t, best = r["tiers"], r["ceiling"]["best"]
    print(f"\n{'tier (in-process)':<20}{'snippets/s':>11}{'x ceiling':>10}{'CV F1':>8}"
          f"{'Spearman':>9}{'escalated':>10}")  # fmt: skip
    for name, row in t["in_process"].items():
        cv = t["cv"].get(name, {})
        print(f"{name:<20}{row['per_s']:>11.1f}{row['per_s'] / best:>10.2f}"
              f"{cv.get('f1_keep', float('nan')):>8.3f}{cv.get('spearman', float('nan')):>9.3f}"
              f"{row['escalated_share']:>10.1%}")  # fmt: skip
    st = t["fast_stages_s"]
    print("fast stages over the set: " + ", ".join(f"{k} {v:.3f} s" for k, v in st.items()))
    if "fast_server" in t:
        f = t["fast_server"]
        print(f"fast-only server: SERVING after {f['ready_s']:.2f} s, peak RSS"
              f" {f['peak_rss_mib']:.0f} MiB in {f.get('processes', 1)} processes (server"
              f" {f.get('server_rss_mib', f['peak_rss_mib']):.0f}), torch mapped:"
              f" {f['torch_loaded']}")  # fmt: skip
    for line, c in t.get("cascade_lines", {}).items():
        print(f"cascade at {line}: band {c['band']}, {c['escalated_share']:.1%} of the set"
              f" escalated, out of fold {c['oof_agreement']:.2%} as full")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
