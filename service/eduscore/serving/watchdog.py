"""The watchdog: a model call running far past its time turns the server NOT_SERVING.

A hung model call (a deadlock in a native library, a stopped or swapped-out process) leaves
the rest of the server answering, so health said SERVING while the queue filled behind it.
Once a second the watchdog reads how long each lane's call in flight has run
(serving/lanes.py). Past --stall-timeout-s it counts the call once, logs it, kills it if a pool
worker runs it (its lane answers the batch UNAVAILABLE and starts a new worker), and reports
the server stalled, which turns health NOT_SERVING (readiness, and the `liveness` service the
Kubernetes liveness probe asks) until no call is stalled any more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from eduscore import metrics
from eduscore.serving.batching import MicroBatcher
from eduscore.serving.lanes import Lane

log = logging.getLogger(__name__)

#: How often call ages are read; a stall is seen at most this late.
PERIOD_S = 1.0


class Watchdog:
    """Watches a batcher's calls in flight.

    Args:
        batcher: whose lanes to watch.
        stall_timeout_s: age past which a call counts as hung.
        on_change: awaited with True when a call first stalls, False when none is stalled.
    """

    def __init__(
        self,
        batcher: MicroBatcher,
        stall_timeout_s: float,
        on_change: Callable[[bool], Awaitable[None]],
    ) -> None:
        self.batcher = batcher
        self.stall_timeout_s = stall_timeout_s
        self._on_change = on_change
        self.stalled = False
        self._counted: set[tuple[str, float]] = set()  # (lane, call start) already counted

    async def run(self, period_s: float = PERIOD_S) -> None:
        """Check every `period_s` until cancelled."""
        while True:
            await asyncio.sleep(period_s)
            await self.check()

    async def check(self, now: float | None = None) -> bool:
        """Read every call's age once; True while one runs past the timeout."""
        now = time.monotonic() if now is None else now
        # Each start read once: a lane thread clears it when its call returns.
        calls = [(lane, lane.call_started) for lane in self.batcher.lanes]
        ages = [(lane, start, now - start) for lane, start in calls if start is not None]
        metrics.oldest_call_seconds.set(max((age for *_, age in ages), default=0.0))
        hung = [(lane, start, age) for lane, start, age in ages if age > self.stall_timeout_s]
        for lane, start, age in hung:
            if (lane.name, start) not in self._counted:
                self._counted.add((lane.name, start))
                self._stalled(lane, age)
        stalled = bool(hung)
        if not stalled:
            self._counted.clear()
        if stalled != self.stalled:
            self.stalled = stalled
            if not stalled:
                log.warning("no model call is stalled any more")
            await self._on_change(stalled)
        return stalled

    def _stalled(self, lane: Lane, age: float) -> None:
        """Count, log and (for a pool worker) kill a hung call."""
        metrics.stalled_calls.inc()
        stopped = lane.stop_call()
        log.error(
            "model call on %s has run %.1f s (--stall-timeout-s=%g) with %d snippets: %s",
            lane.name,
            age,
            self.stall_timeout_s,
            lane.call_items,
            "killed its worker process; it is being replaced"
            if stopped
            else "health is NOT_SERVING until it returns",
        )
