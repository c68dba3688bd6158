"""Scoring backends of `eduscore filter`: remote servers over gRPC, or an in-process Scorer."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from eduscore.pipelines.connect import connection_of
from eduscore.pipelines.rows import (
    DEFAULT_MAX_SNIPPET_BYTES,
    INVALID,
    Judgement,
    UsageError,
    unit_rows,
)

log = logging.getLogger(__name__)
FULL = "full"  # the tier in-process scoring runs unless --tier says otherwise


class RemoteBackend:
    """ScoreBatch calls on a thread pool; several in flight keep every replica's queue full."""

    def __init__(self, args: argparse.Namespace, servers: list[str]) -> None:
        import grpc

        from eduscore.client import EduScoreClient, RetryPolicy

        conn = connection_of(args, os.environ, servers, "eduscore filter")
        # Overload is retried below, with longer waits than a single call's.
        retry = RetryPolicy(codes=frozenset({grpc.StatusCode.UNAVAILABLE}))
        self.client = EduScoreClient(
            servers, timeout_s=args.timeout_s, retry=retry, **conn.client_kwargs()
        )
        try:
            self.client.wait_ready(timeout_s=args.connect_timeout_s)
        except Exception as exc:  # grpc.FutureTimeoutError: nothing answers at any address
            self.client.close()
            raise TimeoutError(
                f"no server reachable at {', '.join(servers)} in {args.connect_timeout_s:g}s"
                f" ({conn.hint()})"
            ) from exc
        try:
            self._configure(args, servers)
        except BaseException:
            self.client.close()
            raise

    def _configure(self, args: argparse.Namespace, servers: list[str]) -> None:
        info = self.client.model_info()
        self.model_version = info.model_version
        self.max_bytes = info.limits.max_snippet_bytes or DEFAULT_MAX_SNIPPET_BYTES
        if info.limits.max_batch_snippets and args.batch_size > info.limits.max_batch_snippets:
            raise UsageError(
                f"--batch-size={args.batch_size} exceeds the server's"
                f" --max-batch-snippets={info.limits.max_batch_snippets}"
            )
        self.threshold = info.default_threshold if args.threshold is None else args.threshold
        # An old server reports no tiers: it runs full only, and ignores the request's tier.
        served = info.tiers or {FULL: None}
        if args.tier and args.tier not in served:
            raise UsageError(f"--tier {args.tier}: the server runs only {', '.join(served)}")
        self.tier = args.tier or info.default_tier or FULL
        self.units = bool(args.units)
        self.inflight = args.inflight or 2 + 2 * len(servers)
        self.pool = ThreadPoolExecutor(self.inflight, thread_name_prefix="eduscore-filter")

    def submit(self, snippets: list[tuple[str, str, str]]) -> Future[list[Judgement]]:
        return self.pool.submit(self._score, snippets)

    def _score(self, snippets: list[tuple[str, str, str]]) -> list[Judgement]:
        import grpc

        from eduscore.client import SnippetIn

        batch = [SnippetIn(code=c, id=i, language=lang) for i, c, lang in snippets]
        for attempt in range(10):
            try:
                results = self.client.score_batch(
                    batch, threshold=self.threshold, tier=self.tier, units=self.units
                )
                return [self._judgement(r) for r in results]
            except grpc.RpcError as exc:
                if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
                    return self._one_by_one(batch)
                if exc.code() is not grpc.StatusCode.RESOURCE_EXHAUSTED or attempt == 9:
                    raise
                # Queue full: back off exponentially with jitter so clients do not retry in step.
                time.sleep(min(0.2 * 2**attempt, 10.0) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _one_by_one(self, batch: list[Any]) -> list[Judgement]:
        """A row the local check let through was refused: find it and mark it invalid."""
        import grpc

        out = []
        for s in batch:
            try:
                r = self.client.score(
                    s.code,
                    id=s.id,
                    language=s.language,
                    threshold=self.threshold,
                    tier=self.tier,
                    units=self.units,
                )
                out.append(self._judgement(r))
            except grpc.RpcError as exc:
                if exc.code() is not grpc.StatusCode.INVALID_ARGUMENT:
                    raise
                log.warning("row %r refused: %s", s.id, exc.details())
                out.append(INVALID)
        return out

    def _judgement(self, r: Any) -> Judgement:
        units = unit_rows(r.units) if self.units else None
        return Judgement(float(r.score), bool(r.keep), int(r.label), units)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


class LocalBackend:
    """The in-process Scorer: here, synchronously (`--workers 1`), or in a pool of processes
    each loading it once, with `inflight` chunks queued so no worker waits for the next."""

    def __init__(self, args: argparse.Namespace) -> None:
        from eduscore.config import DEFAULT_THRESHOLD, default_model_dir
        from eduscore.pipelines import workers

        self.threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
        self.tier = args.tier or FULL
        self.units = bool(args.units)
        self.workers = args.workers or workers.default_workers(self.tier)
        recipe = workers.Recipe(
            model_dir=args.model_dir or default_model_dir(),
            tier=self.tier,
            encoder=args.encoder,
            threshold=self.threshold,
            batch_size=min(args.batch_size, 64),
            # Several encoders in one machine share its cores rather than each taking them all.
            torch_threads=0 if self.workers == 1 else max(1, (os.cpu_count() or 1) // self.workers),
            device=args.device,
        )
        self.max_bytes = DEFAULT_MAX_SNIPPET_BYTES
        self.pool: ProcessPoolExecutor | None = None
        if self.workers == 1:
            self.inflight = 0
            self.scorer = recipe.load()
            self.model_version = self.scorer.model_version
            return
        self.inflight = 2 * self.workers
        # spawn: a fork of a process with gRPC/tqdm/torch threads can deadlock in the child.
        self.pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=workers.init_worker,
            initargs=(recipe,),
        )
        try:
            self.model_version = self.pool.submit(workers.worker_model_version).result()
        except BaseException:
            self.close()
            raise

    def submit(self, snippets: list[tuple[str, str, str]]) -> Future[list[Judgement]]:
        from eduscore.pipelines import workers

        if self.pool is None:
            future: Future[list[Judgement]] = Future()
            future.set_result(
                workers.score_chunk(self.scorer, snippets, self.threshold, self.tier, self.units)
            )
            return future
        return self.pool.submit(
            workers.worker_score, snippets, self.threshold, self.tier, self.units
        )

    def close(self) -> None:
        if self.pool is not None:
            # Chunks not started are dropped; a running one finishes (a worker cannot be
            # interrupted mid-chunk), so no worker outlives the command.
            self.pool.shutdown(wait=True, cancel_futures=True)


def empty_result() -> Future[list[Judgement]]:
    """A finished future with no judgements, for a chunk with no scorable rows."""
    future: Future[list[Judgement]] = Future()
    future.set_result([])
    return future
