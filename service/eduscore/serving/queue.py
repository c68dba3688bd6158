"""The snippets waiting for the model, bounded in count and bytes of code; batches leave its head.

One queue, one bound, but a line per route: snippets for the in-process model and snippets for
the worker pool (serving/pool.py) wait apart, so each route's lanes take only their own, in
order, while admission counts them together.
Not locked itself: the MicroBatcher's condition guards every call, so the admission decision and
the enqueue are one step for every producer and for the worker that empties the queue.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eduscore import metrics
from eduscore.errors import Overloaded, QueueFull
from eduscore.scoring.scorer import ScoredSnippet, Snippet

#: Routes: the server's own model thread, and the pool of worker processes.
MODEL, POOL = "model", "pool"


@dataclass(slots=True)
class Pending:
    """One queued snippet and the future its caller awaits."""

    snippet: Snippet
    future: asyncio.Future[ScoredSnippet]
    key: bytes
    cost: int  # estimated encoder tokens, for --max-batch-tokens
    size: int  # UTF-8 bytes of the code, for --max-queue-bytes
    enqueued: float
    deadline: float | None
    route: str = MODEL


class WorkQueue:
    """FIFO lines of Pending items, one per route, under one snippet cap and one byte budget;
    keeps the gauges current."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._routes: dict[str, deque[Pending]] = {MODEL: deque(), POOL: deque()}
        self._count = 0
        self.bytes = 0
        metrics.queue_capacity.set(max_items)

    def __len__(self) -> int:
        return self._count

    def waiting(self, route: str) -> int:
        return len(self._routes[route])

    def refusal(
        self, pending: Sequence[Pending], deadline: float | None, now: float, item_seconds: float
    ) -> Overloaded | None:
        """Why `pending` (all of one route) cannot be queued now, or None.

        QueueFull when room is lacking (it frees up as batches finish); plain Overloaded when
        the wait ahead, at the route's measured rate (`item_seconds` a snippet, its lanes
        together), exceeds the caller's deadline (waiting only makes that worse: the caller
        should go elsewhere or retry later).
        """
        line = self._routes[pending[0].route] if pending else self._routes[MODEL]
        size = sum(p.size for p in pending)
        waiting = self._count
        if waiting + len(pending) > self.max_items:
            return QueueFull(
                f"queue full: {waiting} snippets waiting, {len(pending)} more"
                f" exceed --max-queue-size={self.max_items}; retry with backoff"
            )
        if self.bytes + size > self.max_bytes:
            return QueueFull(
                f"queue full: {self.bytes} bytes of code waiting, {size} more exceed"
                f" --max-queue-bytes={self.max_bytes}; retry with backoff or send smaller batches"
            )
        ahead = len(line)
        if deadline is None or not ahead or now + (ahead + len(pending)) * item_seconds <= deadline:
            return None
        # Only now count what is still awaited: items of a cancelled call are skipped, not
        # computed. (Called on the event loop, where futures change state.)
        live = sum(not p.future.done() for p in line)
        expected = (live + len(pending)) * item_seconds
        if live and now + expected > deadline:
            return Overloaded(
                f"{live} snippets queued ahead: ~{expected:.1f} s of work exceeds"
                f" the call's deadline ({deadline - now:.1f} s left); retry later"
            )
        return None

    def extend(self, pending: Sequence[Pending]) -> None:
        for item in pending:
            self._routes[item.route].append(item)
        self._count += len(pending)
        self.bytes += sum(p.size for p in pending)
        self._gauge()

    def take(
        self, route: str, max_items: int, max_tokens: int, *, expire: Callable[[Pending], None]
    ) -> list[Pending]:
        """Pop up to the count and token caps from a route's line, skipping abandoned and
        expired items.

        Items whose caller cancelled are dropped; those whose deadline passed go to `expire`.
        """
        line = self._routes[route]
        batch: list[Pending] = []
        tokens = 0
        now = time.monotonic()
        while line and len(batch) < max_items:
            item = line[0]
            if item.future.done():  # the caller cancelled: do not compute it
                self._pop(line)
                metrics.rejected.labels("cancelled").inc()
                continue
            if item.deadline is not None and item.deadline <= now:
                self._pop(line)
                metrics.rejected.labels("deadline").inc()
                expire(item)
                continue
            if batch and tokens + item.cost > max_tokens:
                break  # it opens the next batch
            batch.append(self._pop(line))
            tokens += item.cost
        return batch

    def _pop(self, line: deque[Pending]) -> Pending:
        item = line.popleft()
        self._count -= 1
        self.bytes -= item.size
        self._gauge()
        return item

    def clear(self) -> list[Pending]:
        items = [item for line in self._routes.values() for item in line]
        for line in self._routes.values():
            line.clear()
        self._count, self.bytes = 0, 0
        self._gauge()
        return items

    def _gauge(self) -> None:
        metrics.queue_depth.set(self._count)
        metrics.queue_bytes.set(self.bytes)
