"""MicroBatcher with the real model: batch caps, failure isolation, deadlines, worker death."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from eduscore import metrics
from eduscore.errors import DeadlineExpired, Overloaded, QueueFull, ShuttingDown
from eduscore.scoring.scorer import ScoredSnippet, Scorer, Snippet
from eduscore.serving.batching import MicroBatcher

TOL = 1e-6  # the style guide's oracle bound: scores are float32 in process and on the wire


class Observed(Scorer):
    """The real scorer; records each batch and lets a test hook act before the model runs."""

    def __init__(self, inner: Scorer, before: Callable[[list[str]], None] | None = None) -> None:
        self.__dict__.update(inner.__dict__)
        self.batches: list[list[str]] = []
        self.before = before

    def score_units(self, snippets: Sequence[Snippet], threshold: float | None = None):
        ids = [s.id for s in snippets]
        if ids != [""]:  # warm-up is not the test's traffic
            self.batches.append(ids)
            if self.before is not None:
                self.before(ids)
        return super().score_units(snippets, threshold)


def _snip(i: int, lines: int = 1) -> Snippet:
    body = "".join(f"    total += {i} * {k}\n" for k in range(lines))
    return Snippet(id=str(i), code=f"def f_{i}(total):\n{body}    return total\n")


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def _rejected(reason: str) -> float:
    return _sample("eduscore_rejected_total", reason=reason)


async def _started(scorer: Scorer, **kw: object) -> MicroBatcher:
    batcher = MicroBatcher(scorer, **kw)  # type: ignore[arg-type]
    await batcher.start()
    return batcher


async def test_count_cap_splits_a_request_into_batches(scorer: Scorer) -> None:
    seen = Observed(scorer)
    batcher = await _started(seen, max_batch_size=3)
    try:
        results = await asyncio.gather(*batcher.submit([_snip(i) for i in range(7)]))
    finally:
        batcher.close(10)
    assert seen.batches == [["0", "1", "2"], ["3", "4", "5"], ["6"]]
    assert [r.id for r in results] == [str(i) for i in range(7)]


async def test_token_cap_bounds_a_batch_but_never_starves_a_long_item(scorer: Scorer) -> None:
    seen = Observed(scorer)
    # ~300 characters is ~100 estimated tokens: two fit in 250, a 1,500-character one fits
    # nowhere but still runs, alone.
    snippets = [_snip(i, lines=12) for i in range(4)] + [_snip(9, lines=70), _snip(5, lines=12)]
    batcher = await _started(seen, max_batch_size=64, max_batch_tokens=250)
    try:
        await asyncio.gather(*batcher.submit(snippets))
    finally:
        batcher.close(10)
    assert seen.batches == [["0", "1"], ["2", "3"], ["9"], ["5"]]


async def test_a_failed_batch_fails_only_its_own_items(scorer: Scorer) -> None:
    def fail_on_marker(ids: list[str]) -> None:
        if "2" in ids:
            raise RuntimeError("injected model failure")

    seen = Observed(scorer, before=fail_on_marker)
    batcher = await _started(seen, max_batch_size=2)
    snippets = [_snip(i) for i in range(6)]
    failures = _sample("eduscore_batch_failures_total")
    try:
        outcomes = await asyncio.gather(*batcher.submit(snippets), return_exceptions=True)
        after = await asyncio.gather(*batcher.submit([_snip(7)]))  # the worker lives on
    finally:
        batcher.close(10)
    assert seen.batches[:3] == [["0", "1"], ["2", "3"], ["4", "5"]]
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert failed == [2, 3], outcomes
    assert all("injected" in str(outcomes[i]) for i in failed)
    alone = [scorer.score_batch([s])[0] for s in [*(snippets[i] for i in (0, 1, 4, 5)), _snip(7)]]
    for got, want in zip([outcomes[i] for i in (0, 1, 4, 5)] + after, alone, strict=True):
        assert isinstance(got, ScoredSnippet)
        assert got.score == pytest.approx(want.score, abs=TOL) and got.n_tokens == want.n_tokens
    assert _sample("eduscore_batch_failures_total") == failures + 1


async def test_deadline_expiring_in_the_queue_is_dropped_by_the_worker(scorer: Scorer) -> None:
    running = threading.Event()
    seen = Observed(scorer, before=lambda ids: running.set())
    batcher = await _started(seen, max_batch_size=16)
    expired, cancelled = _rejected("deadline"), _rejected("cancelled")
    try:
        busy = batcher.submit([_snip(i, lines=30) for i in range(16)])  # one batch, ~1 s
        assert await asyncio.to_thread(running.wait, 30)
        (late,) = batcher.submit([_snip(99)], deadline=time.monotonic() + 0.05)
        with pytest.raises(DeadlineExpired, match="deadline passed while its snippets were"):
            await asyncio.wait_for(late, 60)
        await asyncio.gather(*busy)
    finally:
        batcher.close(10)
    assert all("99" not in ids for ids in seen.batches)  # never computed
    assert _rejected("deadline") == expired + 1  # counted once, by the worker
    assert _rejected("cancelled") == cancelled


async def test_byte_budget_refuses_without_counting_the_request_twice(scorer: Scorer) -> None:
    release = threading.Event()
    seen = Observed(scorer, before=lambda ids: release.wait(30))
    batcher = await _started(seen, max_batch_size=1, max_queue_bytes=1000, cache=None)
    overloaded, misses = _rejected("overloaded"), _sample("eduscore_cache_misses_total")
    try:
        first = batcher.submit([Snippet(id="a", code="x = 1\n")])  # taken by the worker
        queued = batcher.submit([Snippet(id="b", code="y" * 600)])
        assert _sample("eduscore_queue_bytes") >= 600
        with pytest.raises(QueueFull, match="--max-queue-bytes=1000"):
            batcher.submit([Snippet(id="c", code="z = 2\n"), Snippet(id="d", code="w" * 500)])
        assert _rejected("overloaded") == overloaded + 2  # both snippets of the request, once
        assert _sample("eduscore_cache_misses_total") == misses + 2  # a and b only
        release.set()
        await asyncio.gather(*first, *queued)
        assert _sample("eduscore_queue_bytes") == 0
    finally:
        release.set()
        batcher.close(10)


async def _submit_until_refused(
    batcher: MicroBatcher, kill: Callable[[], None]
) -> tuple[list[asyncio.Future[ScoredSnippet]], list[BaseException]]:
    """Submit batches of large snippets on the event loop, as the servicer does, until refused;
    `kill` stops the worker from another thread meanwhile, as the worker's own death or
    App.stop's close do. Hashing a large snippet releases the GIL, so the kill can land between
    submit's state check and its enqueue."""
    futures: list[asyncio.Future[ScoredSnippet]] = []
    refusals: list[BaseException] = []

    async def kill_soon() -> None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(kill)

    killer = asyncio.ensure_future(kill_soon())
    started = time.monotonic()
    for n in range(100_000):
        big = [Snippet(id=f"{n}-{k}", code=f"# {n} {k}\n" + "x = 1\n" * 10_000) for k in range(16)]
        try:
            futures.extend(batcher.submit(big))
        except (Overloaded, ShuttingDown) as exc:
            refusals.append(exc)
            if isinstance(exc, ShuttingDown) or time.monotonic() - started > 60:
                break
        await asyncio.sleep(0)  # the loop's other tasks (the killer) run between calls
    await killer
    return futures, refusals


class Dying(Observed):
    """The real scorer, killed (SystemExit escapes the per-batch handler) once `die` is set.
    Until then it runs the model on a batch's first snippet only (to spare the shared cores):
    this test checks that futures resolve, not what they hold."""

    def __init__(self, inner: Scorer) -> None:
        super().__init__(inner)
        self.die = threading.Event()

    def score_units(self, snippets: Sequence[Snippet], threshold: float | None = None):
        if self.die.is_set():
            raise SystemExit("injected fault: the worker dies")
        return super().score_units(snippets[:1], threshold) * len(snippets)


@pytest.mark.parametrize("how", ["worker_dies", "close"])
async def test_every_future_resolves_when_the_worker_stops_mid_submit(
    scorer: Scorer, how: str
) -> None:
    dying = Dying(scorer)
    batcher = await _started(dying, max_batch_size=16, max_queue_size=64)

    def kill() -> None:
        if how == "worker_dies":
            dying.die.set()
        else:
            batcher.close(30)

    try:
        futures, refusals = await _submit_until_refused(batcher, kill)
        assert futures and any(isinstance(r, ShuttingDown) for r in refusals)
        done, hanging = await asyncio.wait(futures, timeout=60)
    finally:
        batcher.close(30)
    assert not hanging, f"{len(hanging)} of {len(futures)} futures never resolved"
    errors = {type(f.exception()) for f in done if not f.cancelled() and f.exception()}
    assert errors <= {ShuttingDown}, errors
    if how == "worker_dies":
        assert not batcher.healthy


async def test_a_stream_waiting_for_room_is_not_counted_as_refused(scorer: Scorer) -> None:
    release = threading.Event()
    seen = Observed(scorer, before=lambda ids: release.wait(30))
    batcher = await _started(seen, max_batch_size=1, max_queue_size=1)
    overloaded = _rejected("overloaded")
    try:
        first = batcher.submit([_snip(1)])  # taken by the worker, which then blocks
        while batcher.depth:
            await asyncio.sleep(0.005)
        queued = batcher.submit([_snip(2)])
        with pytest.raises(QueueFull, match="--max-queue-size=1"):
            batcher.submit([_snip(3)])
        assert _rejected("overloaded") == overloaded + 1
        waiter = asyncio.ensure_future(batcher.submit_when_ready(_snip(4)))
        await asyncio.sleep(0.2)
        assert not waiter.done() and _rejected("overloaded") == overloaded + 1
        release.set()
        last = await asyncio.wait_for(waiter, 60)
        results = await asyncio.gather(*first, *queued, last)
    finally:
        release.set()
        batcher.close(10)
    assert [r.id for r in results] == ["1", "2", "4"]
    assert _rejected("overloaded") == overloaded + 1  # the waiting stream item was admitted


async def test_wait_estimate_ignores_items_of_cancelled_calls(scorer: Scorer) -> None:
    release = threading.Event()
    release.set()
    seen = Observed(scorer, before=lambda ids: release.wait(30))
    batcher = await _started(seen, max_batch_size=1)
    try:
        await asyncio.gather(*batcher.submit([_snip(0)]))  # measures the rate per snippet
        release.clear()
        busy = batcher.submit([_snip(1)])  # the worker blocks on it
        while batcher.depth:
            await asyncio.sleep(0.005)
        ahead = batcher.submit([_snip(i) for i in range(2, 7)])
        with pytest.raises(Overloaded, match="5 snippets queued ahead"):
            batcher.submit([_snip(7)], deadline=time.monotonic() + 0.001)
        for fut in ahead:  # the caller left: its items will be skipped, not computed
            fut.cancel()
        (late,) = batcher.submit([_snip(8)], deadline=time.monotonic() + 0.001)  # admitted
        release.set()
        with pytest.raises(DeadlineExpired):
            await asyncio.wait_for(late, 60)
        await asyncio.gather(*busy)
    finally:
        release.set()
        batcher.close(10)
    assert seen.batches == [["0"], ["1"]]
