"""Filter throughput with 1 vs 2 local server replicas, the client balancing round-robin.

    python -m bench.replicas [--n 200] [--repeats 2] [--out results.json]

Runs `eduscore filter`'s engine (several ScoreBatch calls in flight) over a fixed sample of the
labelled corpus (read from ../shared at run time, never copied) against:
  1. in-process Scorer (no server): the reference;
  2. one replica (default torch threads = all cores);
  3. two replicas, default threads each (they contend for the same cores);
  4. two replicas, --torch-threads 1 each (the cores split between them).
Servers run with --cache-size 0 so every run does real work. Each replica's
eduscore_snippets_scored_total shows how the client spread the load. On a 2-core machine two
replicas cannot double throughput: they share the cores one replica already saturates. The bench
shows the balancing works and what it costs; real scale-out needs replicas on separate cores/nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from eduscore.client import EduScoreClient  # noqa: E402
from eduscore.pipelines import filtering  # noqa: E402
from tests.conftest import CORPUS, start_server, stop_server  # noqa: E402

CONFIGS: list[tuple[str, int, tuple[str, ...]]] = [
    ("1 replica", 1, ()),
    ("2 replicas", 2, ()),
    ("2 replicas, 1 torch thread each", 2, ("--torch-threads", "1")),
]


def load_set(n: int, seed: int = 0) -> list[dict[str, str]]:
    """A fixed sample of distinct corpus snippets (read from ../shared, never copied)."""
    with CORPUS.open() as f:
        codes = list(dict.fromkeys(json.loads(line)["code"] for line in f))
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(codes), n, replace=False))
    return [{"id": str(i), "code": codes[i]} for i in picked]


def scored_total(metrics_url: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=10) as reply:
        text = reply.read().decode()
    m = re.search(r"^eduscore_snippets_scored_total(?:\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


def filter_once(src: Path, tmp: Path, servers: list[str], batch_size: int) -> float:
    """One full `eduscore filter --all` run; rows/s from after connecting / loading the model."""
    parser = argparse.ArgumentParser()
    filtering.add_arguments(parser)
    out = tmp / f"out-{time.monotonic_ns()}.jsonl"
    argv = ["--input", str(src), "--output", str(out), "--all", "--no-progress"]
    argv += ["--batch-size", str(batch_size)]
    for s in servers:
        argv += ["--server", s]
    job = filtering.Job.from_args(parser.parse_args(argv))
    backend = job.make_backend()
    t = time.perf_counter()
    job.execute(backend)
    seconds = time.perf_counter() - t
    return sum(1 for _ in out.open()) / seconds


def run_config(src: Path, tmp: Path, n_replicas: int, extra: tuple[str, ...], a: Any) -> dict:
    servers = [start_server(tmp, "--cache-size", "0", *extra) for _ in range(n_replicas)]
    try:
        for s in servers:  # warm-up: first calls pay for lazy initialisation
            with EduScoreClient(s.address) as client:
                client.score("def warm(x):\n    return x\n", id="warm")
        before = [scored_total(s.metrics_url) for s in servers]
        rates = [
            filter_once(src, tmp, [s.address for s in servers], a.batch_size)
            for _ in range(a.repeats)
        ]
        share = [scored_total(s.metrics_url) - b for s, b in zip(servers, before, strict=True)]
    finally:
        for s in servers:
            stop_server(s)
    return {"rows_per_s": max(rates), "runs": rates, "scored_per_replica": share}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas")
    parser.add_argument("--n", type=int, default=200, help="snippets in the set")
    parser.add_argument("--repeats", type=int, default=2, help="runs per config (best is kept)")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per ScoreBatch call")
    parser.add_argument("--out", default="", help="also write the results as JSON here")
    a = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "n": a.n,
        "batch_size": a.batch_size,
        "rows": [],
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "set.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in load_set(a.n)))
        local = [filter_once(src, tmp, [], a.batch_size) for _ in range(a.repeats)]
        results["rows"].append({"config": "in-process (no server)", "rows_per_s": max(local)})
        for name, n_replicas, extra in CONFIGS:
            row = run_config(src, tmp, n_replicas, extra, a)
            results["rows"].append({"config": name, **row})
            print(f"{name}: {row['rows_per_s']:.1f} rows/s", file=sys.stderr)
    base = results["rows"][1]["rows_per_s"]
    print(f"\n{a.n} snippets, {results['machine']['cpus']} cpus, --batch-size {a.batch_size}")
    print(f"{'config':<34}{'rows/s':>9}{'x 1 replica':>13}  scored per replica")
    for row in results["rows"]:
        share = ", ".join(f"{v:.0f}" for v in row.get("scored_per_replica", []))
        ratio = row["rows_per_s"] / base
        print(f"{row['config']:<34}{row['rows_per_s']:>9.1f}{ratio:>13.2f}  {share}")
    if a.out:
        Path(a.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
