"""What the bench measures, shared by its runs (bench/__main__.py, bench/tiers.py): the fixed set,
the in-process ceiling, served rates per call shape, per-stage costs, peak RSS, percentiles."""

from __future__ import annotations

import json
import queue
import threading
import time
from pathlib import Path

import grpc
import numpy as np

from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc
from tests.conftest import CORPUS


def load_set(n: int, seed: int = 0) -> list[str]:
    """A fixed sample of distinct corpus snippets (read from ../shared, never copied)."""
    rows = [json.loads(line) for line in CORPUS.open()]
    codes = list(dict.fromkeys(r["code"] for r in rows))
    rng = np.random.default_rng(seed)
    return [codes[i] for i in sorted(rng.choice(len(codes), n, replace=False))]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def ceiling(
    scorer: Scorer, codes: list[str], sizes: tuple[int, ...], repeats: int = 2
) -> dict[str, float]:
    """In-process snippets/s per batch size: one full warm-up pass, then the best of `repeats`.

    The first pass over new shapes is much slower (allocator and kernel caches); the service is
    measured warm, so the ceiling is too.
    """
    snippets = [Snippet(code=c) for c in codes]
    for i in range(0, len(snippets), max(sizes)):
        scorer.score_batch(snippets[i : i + max(sizes)])
    out = {}
    for size in sizes:
        best = 0.0
        for _ in range(repeats):
            t = time.perf_counter()
            for i in range(0, len(snippets), size):
                scorer.score_batch(snippets[i : i + size])
            best = max(best, len(snippets) / (time.perf_counter() - t))
        out[str(size)] = best
    return out


def run_batch(
    stub: eduscore_pb2_grpc.EduScorerStub, codes: list[str], size: int, in_flight: int = 1
) -> float:
    """ScoreBatch calls of `size` snippets, `in_flight` at a time (as `eduscore filter` does)."""
    from concurrent.futures import ThreadPoolExecutor

    def call(i: int) -> None:
        chunk = codes[i : i + size]
        reply = stub.ScoreBatch(
            pb.ScoreBatchRequest(
                snippets=[pb.Snippet(id=str(j), code=c) for j, c in enumerate(chunk)]
            ),
            timeout=600,
        )
        assert len(reply.results) == len(chunk)

    t = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        list(pool.map(call, range(0, len(codes), size)))
    return len(codes) / (time.perf_counter() - t)


def run_stream(stub: eduscore_pb2_grpc.EduScorerStub, codes: list[str]) -> float:
    t = time.perf_counter()
    reqs = (pb.ScoreRequest(snippet=pb.Snippet(id=str(i), code=c)) for i, c in enumerate(codes))
    n = sum(1 for _ in stub.ScoreStream(reqs, timeout=600))
    assert n == len(codes)
    return len(codes) / (time.perf_counter() - t)


def run_unary(address: str, codes: list[str], clients: int) -> tuple[float, list[float]]:
    work: queue.Queue[tuple[int, str]] = queue.Queue()
    for item in enumerate(codes):
        work.put(item)
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        with grpc.insecure_channel(address) as ch:
            stub = eduscore_pb2_grpc.EduScorerStub(ch)
            while True:
                try:
                    i, code = work.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                stub.Score(pb.ScoreRequest(snippet=pb.Snippet(id=str(i), code=code)), timeout=600)
                with lock:
                    latencies.append(time.perf_counter() - t)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return len(codes) / (time.perf_counter() - t), latencies


def stages(
    scorer: Scorer, codes: list[str], size: int = 64, tier: str = "full", repeats: int = 3
) -> dict[str, float]:
    """Seconds per stage of one tier over the set at batch `size`, best of `repeats`: its
    encoder (transformer or static table), the signals (parser included), the lexical estimate
    and its head, so each stage's share of the cost is visible."""
    from eduscore.scoring import features
    from eduscore.scoring.lexical import STACKED_NAME
    from eduscore.scoring.scorer import design_matrix

    model = scorer.tier_model(tier)
    names = model.head.feature_names
    best = dict.fromkeys(("encoder", "signals", "lexical", "head"), float("inf"))
    for _ in range(repeats):
        took = dict.fromkeys(best, 0.0)
        for i in range(0, len(codes), size):
            chunk = codes[i : i + size]
            t0 = time.perf_counter()
            vectors = model.embedder.encode(chunk).vectors
            t1 = time.perf_counter()
            signals = [features.extract(c) for c in chunk]
            t2 = time.perf_counter()
            if scorer.lexical is not None:  # the stacked estimate: a signal the heads read
                for row, value in zip(signals, scorer.lexical.stacked(chunk, signals), strict=True):
                    row[STACKED_NAME] = value
            t3 = time.perf_counter()
            model.head.predict(design_matrix(vectors, signals, names))
            t4 = time.perf_counter()
            for stage, took_s in zip(best, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                took[stage] += took_s
        best = {k: min(best[k], took[k]) for k in best}
    best["total_over_encoder"] = sum(best.values()) / best["encoder"]
    return best


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (a server's pool workers and multiprocessing's tracker)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_peak_rss_mib(pid: int) -> dict[str, float]:
    """Peak RSS of `pid` and of each process below it, and their sum: the memory a server with
    worker processes asks of its machine (an upper bound: the peaks need not coincide)."""
    each = {str(p): peak_rss_mib(p) for p in [pid, *descendants(pid)]}
    return {"server": each[str(pid)], "total": sum(each.values()), "processes": len(each)}
