"""Handing outcomes from the model's worker thread to the event loop that owns the futures.

asyncio futures may only be completed on their loop's thread; these helpers schedule that, and
skip callers that already gave up (a cancelled future stays as it is).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from eduscore.scoring.scorer import ScoredSnippet
from eduscore.serving.queue import Pending


def call_soon(loop: asyncio.AbstractEventLoop | None, fn: Callable[[], object]) -> None:
    """Run `fn` on the event loop (from the worker thread), unless the loop is gone."""
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(fn)


def settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    """Complete `future` (on the loop's thread) unless its waiter already gave up."""
    if not future.done():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(None)


def resolve(
    loop: asyncio.AbstractEventLoop | None,
    batch: list[Pending],
    outcome: Sequence[ScoredSnippet] | BaseException,
) -> None:
    """Set each item's future to its result (or all to one error), on the loop's thread."""

    def apply() -> None:
        for i, item in enumerate(batch):
            if item.future.done():
                continue
            if isinstance(outcome, BaseException):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome[i])

    call_soon(loop, apply)
