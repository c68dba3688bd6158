"""MicroBatcher: one bounded queue in front of the model, lane threads forming micro-batches.

Every RPC (unary, batch, stream) puts its snippets here and awaits one future per snippet, so
concurrent unary callers share model calls. A lane (serving/lanes.py) takes whatever its route
has queued when its model is free (capped by count and by tokens), waits up to `max_wait_ms`
for more only while load suggests more is coming, drops items whose caller left or whose
deadline passed, and sets each future. The server's model has a lane; each worker of a pool
(serving/pool.py) has one, taking the fast-tier snippets. A failed batch fails its own items,
never the loop (TEI's `backend_task`); a lost worker's, UNAVAILABLE (serving/lanes.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

from eduscore import metrics
from eduscore.errors import DeadlineExpired, EduScoreError, QueueFull, ShuttingDown
from eduscore.scoring.cache import ResultCache, content_key
from eduscore.scoring.scorer import CASCADE, FAST, ScoredSnippet, Scorer, Snippet
from eduscore.serving.delivery import call_soon, resolve
from eduscore.serving.lanes import Lane, lanes_for
from eduscore.serving.pool import PoolWorker
from eduscore.serving.queue import MODEL, POOL, Pending, WorkQueue

log = logging.getLogger(__name__)

#: Rough characters per encoder token for code; only used to budget batches, never to score.
_CHARS_PER_TOKEN = 3
#: How often an idle lane looks whether its worker process is still alive.
_IDLE_LOOK_S = 1.0
#: Most of the last model call's duration a batch may wait to fill.
_WAIT_SHARE = 0.05
_STOPPED = "the server is shutting down or its model worker stopped; retry on another replica"
_DIED = "the model worker stopped; the server is unhealthy: retry on another replica"
_EXPIRED = "the call's deadline passed while its snippets were queued; allow more time or retry"


class MicroBatcher:
    """Bounded queue + lane threads between the servicer and synchronous model runners.

    Args:
        scorer: the server's own model; its lane is the only thread that calls it.
        pool: worker processes for the fast tier (serving/pool.py), a lane each; none: all
            snippets go to `scorer`.
        max_batch_size: most snippets per model call.
        max_batch_tokens: most (estimated) encoder tokens per model call.
        max_wait_ms: longest a batch waits to fill while requests keep arriving (and never
            more than 5 % of the lane's last model call).
        max_queue_size, max_queue_bytes: queued snippets, and queued code (UTF-8 bytes),
            beyond which `submit` raises QueueFull.
        cache: optional content-hash result cache, consulted before queueing.
        on_failure: called (from a lane thread) if a lane dies or a worker cannot be replaced.
    """

    def __init__(
        self,
        scorer: Scorer,
        *,
        pool: Sequence[PoolWorker] = (),
        max_batch_size: int = 64,
        max_batch_tokens: int = 16384,
        max_wait_ms: float = 50.0,
        max_queue_size: int = 2048,
        max_queue_bytes: int = 64 * 1024 * 1024,
        cache: ResultCache | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.scorer = scorer
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_wait_s = max_wait_ms / 1000.0
        self.cache = cache if cache is not None else ResultCache(0)
        self._on_failure = on_failure
        # Batches are budgeted in encoder tokens, a fast tier's too (it reads more, far cheaper).
        self._max_cost = min(scorer.embedder.max_seq_length, 256)
        self.lanes = lanes_for(scorer, pool)
        self._pooled = bool(pool)
        self._queue = WorkQueue(max_queue_size, max_queue_bytes)
        self._cond = threading.Condition()
        self._stopping = False
        self._failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._space: asyncio.Event | None = None
        # Seconds a snippet in one lane's calls (moving average per route): deadline admission.
        self._item_seconds = {MODEL: 0.0, POOL: 0.0}

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the lanes and return once each has warmed its model up.

        A lane's thread is the only one that ever runs its model, warm-up included: OpenMP
        keeps a thread team per calling thread, and a second idle team makes PyTorch's own team
        sleep between operations instead of spinning (measured on 2 cores: one snippet 26-27 ms
        from a single model thread, 40-60 ms when another thread had warmed the model up).

        Raises:
            Exception: what a lane's warm-up raised (a worker that cannot load: ModelLoadError).
        """
        self.loop = asyncio.get_running_loop()
        self._space = asyncio.Event()
        warm = [self.loop.create_future() for _ in self.lanes]
        for lane, ready in zip(self.lanes, warm, strict=True):
            lane.start(self, ready)
        outcomes = await asyncio.gather(*warm, return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            await asyncio.to_thread(self.close, 10.0)
            raise errors[0]

    def close(self, timeout_s: float | None = None) -> None:
        """Stop taking work, finish what is queued, join the lanes and stop the workers."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for lane in self.lanes:
            if lane.thread is not None:
                lane.thread.join(timeout_s)
        for lane in self.lanes:
            if lane.worker is not None:
                lane.worker.stop()

    @property
    def healthy(self) -> bool:
        return self._failure is None and all(
            lane.thread is not None and lane.thread.is_alive() for lane in self.lanes
        )

    @property
    def depth(self) -> int:
        return len(self._queue)

    # ---- producer side (event loop) --------------------------------------------------------
    def submit(
        self, snippets: Sequence[Snippet], *, deadline: float | None = None, waits: bool = False
    ) -> list[asyncio.Future[ScoredSnippet]]:
        """Futures for `snippets`, in order; cache hits are already resolved. `waits`: the caller
        waits for room on QueueFull (no refusal, not counted as one).

        Raises:
            QueueFull: the queue has no room for all the uncached snippets now; Overloaded:
                the wait ahead exceeds the call's deadline; ShuttingDown: draining or stopped.
        """
        loop = self.loop
        if loop is None or self._stopping or self._failure is not None:
            self._refuse(ShuttingDown(_STOPPED), "shutting_down", len(snippets))
        futures: list[asyncio.Future[ScoredSnippet]] = []
        pending: list[Pending] = []
        now = time.monotonic()
        for snip in snippets:
            fut: asyncio.Future[ScoredSnippet] = loop.create_future()
            key = content_key(snip.code, snip.language, self._cache_tier(snip))
            hit = self.cache.get(key)
            if hit is not None:
                fut.set_result(hit.at_threshold(hit.threshold, id=snip.id))
            else:
                size = len(snip.code.encode("utf-8", "surrogatepass"))
                cost = min(len(snip.code) // _CHARS_PER_TOKEN + 2, self._max_cost)
                route = self._route(snip)
                pending.append(Pending(snip, fut, key, cost, size, now, deadline, route))
            futures.append(fut)
        # State is checked under the lock that the dying or stopping worker takes to empty the
        # queue: checked outside it, an item could land after the queue was failed, and hang.
        with self._cond:
            refusal = self._refusal(pending, deadline, now)
            if refusal is None and pending:
                self._queue.extend(pending)
                self._cond.notify_all()  # the lanes of either route may be waiting
        if refusal is not None:
            error, reason = refusal
            if waits and isinstance(error, QueueFull):
                raise error
            self._refuse(error, reason, len(snippets))
        # Counted once admitted, so a refused request moves neither counter.
        metrics.cache_hits.inc(len(snippets) - len(pending))
        metrics.cache_misses.inc(len(pending))
        return futures

    def _route(self, snip: Snippet) -> str:
        """Fast-tier snippets go to the pool when there is one; the rest to the model's lane."""
        return POOL if self._pooled and (snip.tier or self.scorer.default_tier) == FAST else MODEL

    def _cache_tier(self, snip: Snippet) -> str:
        """The tier in a snippet's cache key; a cascade's answer depends on its band too."""
        line = self.scorer.threshold if snip.threshold is None else snip.threshold
        return f"{CASCADE}{self.scorer.band_for(line)}" if snip.tier == CASCADE else snip.tier

    def _refusal(
        self, pending: list[Pending], deadline: float | None, now: float
    ) -> tuple[EduScoreError, str] | None:
        """Why `pending` cannot be queued now (with its metrics reason), or None. Under the lock."""
        if self._stopping or self._failure is not None:
            return ShuttingDown(_STOPPED), "shutting_down"
        if not pending:
            return None
        route = pending[0].route
        lanes = sum(lane.route == route for lane in self.lanes)
        item_seconds = self._item_seconds[route] / max(1, lanes)  # its lanes work side by side
        refusal = self._queue.refusal(pending, deadline, now, item_seconds)
        return None if refusal is None else (refusal, "overloaded")

    @staticmethod
    def _refuse(error: EduScoreError, reason: str, n: int) -> NoReturn:
        """Count `n` refused snippets once, here where the refusal is decided, and raise."""
        metrics.rejected.labels(reason).inc(n)
        raise error

    async def submit_when_ready(
        self, snippet: Snippet, *, deadline: float | None = None
    ) -> asyncio.Future[ScoredSnippet]:
        """Like `submit` for one snippet, but waits for queue space instead of failing."""
        assert self._space is not None, "start() first"
        while True:
            try:
                return self.submit([snippet], deadline=deadline, waits=True)[0]
            except QueueFull as exc:
                # Room frees up as batches finish, unless nothing is queued to finish. A wait
                # longer than the deadline (plain Overloaded) is raised at once: it only grows.
                if not self._queue:
                    self._refuse(exc, "overloaded", 1)
                self._space.clear()
                await self._space.wait()

    # ---- the lanes' side (their threads) -------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping

    def next_batch(self, lane: Lane) -> list[Pending] | None:
        """The lane's next batch (possibly empty), or None when it should stop."""
        with self._cond:
            while not self._queue.waiting(lane.route):
                if self._stopping or self._failure is not None:
                    return None
                if lane.worker is not None and not lane.worker.alive:
                    return []  # its worker died idle: the lane replaces it now
                self._cond.wait(_IDLE_LOOK_S)
            # Wait for the batch to fill only while load says more is coming: the callers served
            # together last time are likely sending again now that they have their answers. A
            # lone request on an idle server (last batch of one) goes straight to the model.
            # The wait is capped at 5 % of the last model call, so filling a batch never costs
            # more than a twentieth of the throughput it buys.
            want = min(self.max_batch_size, lane.last_batch)
            wait = min(self.max_wait_s, _WAIT_SHARE * lane.last_seconds)
            if want > 1 and wait > 0:
                until = time.monotonic() + wait
                while self._queue.waiting(lane.route) < want and not self._stopping:
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            batch = self._queue.take(
                lane.route,
                self.max_batch_size,
                self.max_batch_tokens,
                expire=lambda item: resolve(self.loop, [item], DeadlineExpired(_EXPIRED)),
            )
            if batch:  # timed from here, so the watchdog sees a call the moment it is taken
                lane.call_started, lane.call_items = time.monotonic(), len(batch)
        self._notify_space()
        return batch

    def scored(self, lane: Lane, batch: list[Pending], results: list[ScoredSnippet]) -> None:
        """Cache and count a batch's results, and resolve its futures."""
        per_item, before = lane.last_seconds / len(batch), self._item_seconds[lane.route]
        self._item_seconds[lane.route] = per_item if not before else 0.8 * before + 0.2 * per_item
        metrics.snippets_scored.inc(len(batch))
        for item, res in zip(batch, results, strict=True):
            self.cache.put(item.key, res)
            metrics.tier_scored.labels(item.snippet.tier or res.tier, res.tier).inc()
            metrics.tokens_per_snippet.observe(res.n_tokens)
            if res.truncated:
                metrics.truncated.inc()
        resolve(self.loop, batch, results)

    def lane_died(self, lane: Lane, batch: list[Pending], cause: BaseException) -> None:
        """A lane's loop broke (or its worker cannot be replaced): fail its batch and all that
        is queued UNAVAILABLE, refuse new work (atomically for `submit`), report unhealthy."""
        failure = ShuttingDown(_DIED)
        with self._cond:
            self._failure = cause
            items = batch + self._queue.clear()
            self._cond.notify_all()  # the other lanes stop too
        if items:
            metrics.rejected.labels("shutting_down").inc(len(items))
            resolve(self.loop, items, failure)
        self._notify_space()
        if self._on_failure is not None:
            self._on_failure(cause)

    def _notify_space(self) -> None:
        if self._space is not None:
            call_soon(self.loop, self._space.set)
