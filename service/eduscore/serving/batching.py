"""MicroBatcher: one bounded queue in front of the model, one worker thread forming micro-batches.

Every RPC (unary, batch, stream) puts its snippets here and awaits one future per snippet, so
concurrent unary callers share model calls. The worker takes what is queued when the model is
free (capped by count and tokens), waits up to `max_wait_ms` for more only while load suggests
more is coming, drops items whose caller left or whose deadline passed, sets each future. A
failed batch fails its own items, never the loop (TEI's `backend_task`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

from eduscore import metrics
from eduscore.errors import DeadlineExpired, EduScoreError, QueueFull, ShuttingDown
from eduscore.scoring.cache import ResultCache, content_key
from eduscore.scoring.scorer import CASCADE, Scorer, ScoreResult, Snippet
from eduscore.serving.delivery import call_soon, resolve, settle
from eduscore.serving.queue import Pending, WorkQueue

log = logging.getLogger(__name__)

#: Rough characters per encoder token for code; only used to budget batches, never to score.
_CHARS_PER_TOKEN = 3
#: Most of the last model call's duration a batch may wait to fill.
_WAIT_SHARE = 0.05
_STOPPED = "the server is shutting down or its model worker stopped; retry on another replica"
_EXPIRED = "the call's deadline passed while its snippets were queued; allow more time or retry"


class MicroBatcher:
    """Bounded queue + worker thread between the servicer and a synchronous Scorer.

    Args:
        scorer: the model; called from the worker thread only.
        max_batch_size: most snippets per model call.
        max_batch_tokens: most (estimated) encoder tokens per model call.
        max_wait_ms: longest a batch waits to fill while requests keep arriving (and never
            more than 5 % of the last model call).
        max_queue_size: queued snippets beyond which `submit` raises QueueFull.
        max_queue_bytes: queued code (UTF-8 bytes) beyond which `submit` raises QueueFull.
        cache: optional content-hash result cache, consulted before queueing.
        on_failure: called (from the worker thread) if the worker dies.
    """

    def __init__(
        self,
        scorer: Scorer,
        *,
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
        # Batches are budgeted in encoder tokens; a fast-only scorer reads more tokens at a
        # fraction of the cost, so its budget is the encoder's usual length.
        self._max_cost = min(scorer.embedder.max_seq_length, 256)
        self._queue = WorkQueue(max_queue_size, max_queue_bytes)
        self._cond = threading.Condition()
        self._stopping = False
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._space: asyncio.Event | None = None
        self._last_batch = 0
        self._last_seconds = 0.0
        # Moving average of model seconds per snippet, for deadline-aware admission.
        self._item_seconds = 0.0

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the worker and return once it has warmed the model up.

        The worker thread is the only one that ever runs the model, warm-up included: OpenMP
        keeps a thread team per calling thread, and a second idle team makes PyTorch's own team
        sleep between operations instead of spinning (measured on 2 cores: one snippet 26-27 ms
        from a single model thread, 40-60 ms when another thread had warmed the model up).
        """
        self._loop = asyncio.get_running_loop()
        self._space = asyncio.Event()
        warm: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._run, args=(warm,), name="eduscore-batcher", daemon=True
        )
        self._thread.start()
        await warm

    def close(self, timeout_s: float | None = None) -> None:
        """Stop taking work, finish what is queued, and join the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def healthy(self) -> bool:
        return self._failure is None and self._thread is not None and self._thread.is_alive()

    @property
    def depth(self) -> int:
        return len(self._queue)

    # ---- producer side (event loop) --------------------------------------------------------
    def submit(
        self, snippets: Sequence[Snippet], *, deadline: float | None = None, waits: bool = False
    ) -> list[asyncio.Future[ScoreResult]]:
        """Futures for `snippets`, in order; cache hits are already resolved. `waits`: the caller
        waits for room on QueueFull (no refusal, not counted as one).

        Raises:
            QueueFull: the queue has no room for all the uncached snippets now; Overloaded:
                the wait ahead exceeds the call's deadline; ShuttingDown: draining or stopped.
        """
        loop = self._loop
        if loop is None or self._stopping or self._failure is not None:
            self._refuse(ShuttingDown(_STOPPED), "shutting_down", len(snippets))
        futures: list[asyncio.Future[ScoreResult]] = []
        pending: list[Pending] = []
        now = time.monotonic()
        for snip in snippets:
            fut: asyncio.Future[ScoreResult] = loop.create_future()
            key = content_key(snip.code, snip.language, self._cache_tier(snip))
            hit = self.cache.get(key)
            if hit is not None:
                fut.set_result(hit.at_threshold(hit.threshold, id=snip.id))
            else:
                size = len(snip.code.encode("utf-8", "surrogatepass"))
                cost = min(len(snip.code) // _CHARS_PER_TOKEN + 2, self._max_cost)
                pending.append(Pending(snip, fut, key, cost, size, now, deadline))
            futures.append(fut)
        # State is checked under the lock that the dying or stopping worker takes to empty the
        # queue: checked outside it, an item could land after the queue was failed, and hang.
        with self._cond:
            refusal = self._refusal(pending, deadline, now)
            if refusal is None and pending:
                self._queue.extend(pending)
                self._cond.notify()
        if refusal is not None:
            error, reason = refusal
            if waits and isinstance(error, QueueFull):
                raise error
            self._refuse(error, reason, len(snippets))
        # Counted once admitted, so a refused request moves neither counter.
        metrics.cache_hits.inc(len(snippets) - len(pending))
        metrics.cache_misses.inc(len(pending))
        return futures

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
        refusal = self._queue.refusal(pending, deadline, now, self._item_seconds)
        return None if refusal is None else (refusal, "overloaded")

    @staticmethod
    def _refuse(error: EduScoreError, reason: str, n: int) -> NoReturn:
        """Count `n` refused snippets once, here where the refusal is decided, and raise."""
        metrics.rejected.labels(reason).inc(n)
        raise error

    async def submit_when_ready(
        self, snippet: Snippet, *, deadline: float | None = None
    ) -> asyncio.Future[ScoreResult]:
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

    # ---- worker thread ---------------------------------------------------------------------
    def _run(self, warm: asyncio.Future[None]) -> None:
        batch: list[Pending] | None = []
        try:
            self.scorer.warmup()
        except BaseException as exc:
            self._failure = exc
            call_soon(self._loop, functools.partial(settle, warm, exc))
            return
        call_soon(self._loop, functools.partial(settle, warm, None))
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                if batch:
                    self._process(batch)
        except BaseException as exc:  # the loop itself broke: fail loudly, never hang callers
            log.exception("batcher worker died")
            failure = ShuttingDown(
                "the model worker stopped; the server is unhealthy: retry on another replica"
            )
            if batch:
                metrics.rejected.labels("shutting_down").inc(len(batch))
                resolve(self._loop, batch, failure)
            self._fail_queued(exc, failure)
            if self._on_failure is not None:
                self._on_failure(exc)

    def _next_batch(self) -> list[Pending] | None:
        with self._cond:
            while not self._queue:
                if self._stopping:
                    return None
                self._cond.wait()
            # Wait for the batch to fill only while load says more is coming: the callers served
            # together last time are likely sending again now that they have their answers. A
            # lone request on an idle server (last batch of one) goes straight to the model.
            # The wait is capped at 5 % of the last model call, so filling a batch never costs
            # more than a twentieth of the throughput it buys.
            want = min(self.max_batch_size, self._last_batch)
            wait = min(self.max_wait_s, _WAIT_SHARE * self._last_seconds)
            if want > 1 and wait > 0:
                until = time.monotonic() + wait
                while len(self._queue) < want and not self._stopping:
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            batch = self._queue.take(
                self.max_batch_size,
                self.max_batch_tokens,
                expire=lambda item: resolve(self._loop, [item], DeadlineExpired(_EXPIRED)),
            )
        self._notify_space()
        return batch

    def _process(self, batch: list[Pending]) -> None:
        started = time.monotonic()
        for item in batch:
            metrics.queue_wait_seconds.observe(started - item.enqueued)
        metrics.batch_size.observe(len(batch))
        self._last_batch = len(batch)
        try:
            results = self.scorer.score_batch([item.snippet for item in batch])
        except Exception as exc:
            log.exception("model call failed for a batch of %d", len(batch))
            metrics.batch_failures.inc()
            resolve(self._loop, batch, exc)
            return
        elapsed = time.monotonic() - started
        self._last_seconds = elapsed
        metrics.inference_seconds.observe(elapsed)
        per_item = elapsed / len(batch)
        self._item_seconds = (
            per_item if not self._item_seconds else (0.8 * self._item_seconds + 0.2 * per_item)
        )
        metrics.snippets_scored.inc(len(batch))
        for item, res in zip(batch, results, strict=True):
            self.cache.put(item.key, res)
            metrics.tier_scored.labels(item.snippet.tier or res.tier, res.tier).inc()
            metrics.tokens_per_snippet.observe(res.n_tokens)
            if res.truncated:
                metrics.truncated.inc()
        resolve(self._loop, batch, results)

    def _notify_space(self) -> None:
        if self._space is not None:
            call_soon(self._loop, self._space.set)

    def _fail_queued(self, cause: BaseException, error: EduScoreError) -> None:
        """Mark the worker failed and fail what is queued, atomically for `submit`."""
        with self._cond:
            self._failure = cause
            items = self._queue.clear()
        if items:
            metrics.rejected.labels("shutting_down").inc(len(items))
            resolve(self._loop, items, error)
        self._notify_space()
