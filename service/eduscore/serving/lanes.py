"""The batcher's lanes: each a thread that takes one route's batches to one model runner.

A runner is the server's own Scorer (the `model` route: the encoder, whose torch threads use
every core) or one worker process of the pool (the `pool` route: the fast tier, one process a
core). A lane times the call it has in flight, which is what the watchdog reads, and replaces
its worker when the process is lost mid-batch (the batch's items are answered UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from eduscore import metrics
from eduscore.scoring.scorer import FAST, ScoredSnippet, Scorer, Snippet
from eduscore.serving.delivery import call_soon, resolve, settle
from eduscore.serving.pool import PoolWorker, WorkerLost
from eduscore.serving.queue import MODEL, POOL, Pending

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What a lane drives: `Scorer.score_units`, units (never split again) in, results out."""

    def warmup(self) -> None: ...

    def score_units(self, snippets: Sequence[Snippet]) -> list[ScoredSnippet]: ...


class Source(Protocol):
    """Where a lane gets its batches and hands its outcomes (the MicroBatcher)."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None: ...

    @property
    def stopping(self) -> bool: ...

    def next_batch(self, lane: Lane) -> list[Pending] | None: ...

    def scored(self, lane: Lane, batch: list[Pending], results: list[ScoredSnippet]) -> None: ...

    def lane_died(self, lane: Lane, batch: list[Pending], cause: BaseException) -> None: ...


@dataclass(eq=False)
class Lane:
    """One consumer of the queue, with what it measured of its own calls."""

    name: str
    route: str
    runner: Runner
    thread: threading.Thread | None = None
    #: time.monotonic() when the model call in flight began; None between calls.
    call_started: float | None = None
    #: Snippets in that call.
    call_items: int = 0
    last_batch: int = 0
    last_seconds: float = 0.0

    @property
    def worker(self) -> PoolWorker | None:
        """The pool worker it drives (one that can be killed and replaced), if any."""
        return self.runner if isinstance(self.runner, PoolWorker) else None

    def start(self, source: Source, warm: asyncio.Future[None]) -> None:
        """Run the lane in a thread of its own; `warm` is settled once its model is warm."""
        self.thread = threading.Thread(
            target=self._run, args=(source, warm), name=f"eduscore-{self.name}", daemon=True
        )
        self.thread.start()

    def _run(self, source: Source, warm: asyncio.Future[None]) -> None:
        try:
            self.runner.warmup()
        except BaseException as exc:
            call_soon(source.loop, functools.partial(settle, warm, exc))
            return
        call_soon(source.loop, functools.partial(settle, warm, None))
        batch: list[Pending] | None = []
        try:
            while True:
                batch = source.next_batch(self)
                if batch is None:
                    return
                if batch:
                    lost = self._call(source, batch)
                    batch = []
                    if lost and not source.stopping:
                        self._replace()
                elif self.worker is not None and not self.worker.alive and not source.stopping:
                    self._replace()  # it died between batches
        except BaseException as exc:  # the loop itself broke: fail loudly, never hang callers
            log.exception("batcher lane %s died", self.name)
            source.lane_died(self, batch or [], exc)

    def _call(self, source: Source, batch: list[Pending]) -> bool:
        """Run one batch on the runner and hand over the outcome; True if the lane's worker
        process was lost with it (its items are then answered UNAVAILABLE)."""
        if self.worker is not None and not self.worker.alive:  # died since the last look
            self.call_started = None
            self._replace()  # raises if no new one starts: the lane dies with the batch
        started = self.call_started = time.monotonic()
        for item in batch:
            metrics.queue_wait_seconds.observe(started - item.enqueued)
        metrics.batch_size.observe(len(batch))
        self.last_batch = len(batch)
        try:
            results = self.runner.score_units([item.snippet for item in batch])
        except WorkerLost as exc:
            log.error("%s lost a batch of %d: %s", self.name, len(batch), exc.__cause__ or exc)
            metrics.batch_failures.inc()
            resolve(source.loop, batch, exc)
            return True
        except Exception as exc:
            log.exception("model call failed for a batch of %d", len(batch))
            metrics.batch_failures.inc()
            resolve(source.loop, batch, exc)
            return False
        finally:
            self.call_started = None
        self.last_seconds = time.monotonic() - started
        metrics.inference_seconds.observe(self.last_seconds)
        source.scored(self, batch, results)
        return False

    def _replace(self) -> None:
        """A fresh process for a worker lost mid-batch; raises (and the lane dies, the server
        turning unhealthy) if none can start."""
        assert self.worker is not None
        metrics.worker_restarts.inc()
        self.worker.restart()
        log.warning("%s replaced (pid %s)", self.name, self.worker.pid)

    def stop_call(self) -> bool:
        """Kill the worker of a call that hangs (True): it is then replaced. A call in the
        server's own thread cannot be stopped (False)."""
        if self.worker is None or self.call_started is None:
            return False
        self.worker.kill()
        return True


def lanes_for(scorer: Scorer, pool: Sequence[PoolWorker]) -> list[Lane]:
    """A lane for the server's own model, unless the pool does all of its work (a fast-only
    server), and one per pool worker."""
    lanes = []
    if not pool or scorer.tiers != (FAST,):
        lanes.append(Lane("model", MODEL, scorer))
    lanes += [Lane(f"worker-{worker.index}", POOL, worker) for worker in pool]
    return lanes
