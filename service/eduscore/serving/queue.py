"""The snippets waiting for the model, bounded in count and bytes of code; batches leave its head.

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


class WorkQueue:
    """FIFO of Pending items with a snippet cap and a byte budget; keeps the gauges current."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: deque[Pending] = deque()
        self.bytes = 0
        metrics.queue_capacity.set(max_items)

    def __len__(self) -> int:
        return len(self._items)

    def refusal(
        self, pending: Sequence[Pending], deadline: float | None, now: float, item_seconds: float
    ) -> Overloaded | None:
        """Why `pending` cannot be queued now, or None.

        QueueFull when room is lacking (it frees up as batches finish); plain Overloaded when
        the wait ahead, at the measured rate, exceeds the caller's deadline (waiting only makes
        that worse: the caller should go elsewhere or retry later).
        """
        waiting, size = len(self._items), sum(p.size for p in pending)
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
        if (
            deadline is None
            or not waiting
            or now + (waiting + len(pending)) * item_seconds <= deadline
        ):
            return None
        # Only now count what is still awaited: items of a cancelled call are skipped, not
        # computed. (Called on the event loop, where futures change state.)
        live = sum(not p.future.done() for p in self._items)
        expected = (live + len(pending)) * item_seconds
        if live and now + expected > deadline:
            return Overloaded(
                f"{live} snippets queued ahead: ~{expected:.1f} s of work exceeds"
                f" the call's deadline ({deadline - now:.1f} s left); retry later"
            )
        return None

    def extend(self, pending: Sequence[Pending]) -> None:
        self._items.extend(pending)
        self.bytes += sum(p.size for p in pending)
        self._gauge()

    def take(
        self, max_items: int, max_tokens: int, *, expire: Callable[[Pending], None]
    ) -> list[Pending]:
        """Pop up to the count and token caps, skipping abandoned and expired items.

        Items whose caller cancelled are dropped; those whose deadline passed go to `expire`.
        """
        batch: list[Pending] = []
        tokens = 0
        now = time.monotonic()
        while self._items and len(batch) < max_items:
            item = self.peek()
            if item.future.done():  # the caller cancelled: do not compute it
                self.pop()
                metrics.rejected.labels("cancelled").inc()
                continue
            if item.deadline is not None and item.deadline <= now:
                self.pop()
                metrics.rejected.labels("deadline").inc()
                expire(item)
                continue
            if batch and tokens + item.cost > max_tokens:
                break  # it opens the next batch
            batch.append(self.pop())
            tokens += item.cost
        return batch

    def peek(self) -> Pending:
        return self._items[0]

    def pop(self) -> Pending:
        item = self._items.popleft()
        self.bytes -= item.size
        self._gauge()
        return item

    def clear(self) -> list[Pending]:
        items = list(self._items)
        self._items.clear()
        self.bytes = 0
        self._gauge()
        return items

    def _gauge(self) -> None:
        metrics.queue_depth.set(len(self._items))
        metrics.queue_bytes.set(self.bytes)
