"""A request's inputs through the batcher as units: each input planned (a long one split into
units off the event loop), the units of all of them queued together, each input judged from its
units' results.

So a whole file costs the queue what its units cost (its limits count units and bytes), and its
units share model calls with other callers' snippets instead of holding the model for one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from eduscore import metrics
from eduscore.errors import InvalidInput
from eduscore.scoring.files import SINGLE_UNIT_CHARS, FilePlan
from eduscore.scoring.scorer import ScoredSnippet, Scorer, Snippet
from eduscore.serving.batching import MicroBatcher


@dataclass(frozen=True, slots=True)
class Planned:
    """One input and what the batcher scores for it: itself, or its units."""

    snippet: Snippet
    plan: FilePlan
    units: list[Snippet]

    @property
    def split(self) -> bool:
        return not self.plan.single


def _plan_each(scorer: Scorer, snippets: Sequence[Snippet], fields: Sequence[str]) -> list[Planned]:
    out = []
    for snippet, field in zip(snippets, fields, strict=True):
        try:
            plan = scorer.plan(snippet)
        except InvalidInput as exc:  # the scorer names `code`; the caller knows which input
            raise InvalidInput(f"{field}.{exc.field}", exc.reason) from None
        out.append(Planned(snippet, plan, scorer.units_of(snippet, plan)))
    return out


async def plan_all(
    scorer: Scorer, snippets: Sequence[Snippet], fields: Sequence[str]
) -> list[Planned]:
    """Each input's plan, in order; `fields` name them in errors (`snippets[3]`).

    Parsing a long file takes a while (~0.1 s for 100 KB of Python), so when any input is longer
    than one unit the plans are made in a worker thread, leaving the event loop to other callers.

    Raises:
        InvalidInput: an input splits into more units than --max-file-units.
    """
    if any(len(s.code) > SINGLE_UNIT_CHARS for s in snippets):
        planned = await asyncio.to_thread(_plan_each, scorer, snippets, fields)
    else:
        planned = _plan_each(scorer, snippets, fields)
    for p in planned:
        if p.split:
            metrics.file_units.observe(len(p.units))
    return planned


def check_fits(planned: Sequence[Planned], max_queue_size: int) -> None:
    """Refuse a request whose units could never be queued at once, even on an idle server (a
    refusal as queue full would have its client retry in vain)."""
    n = sum(len(p.units) for p in planned)
    if n > max_queue_size:
        raise InvalidInput(
            "snippets",
            f"the files of this request split into {n} units, more than --max-queue-size="
            f"{max_queue_size} holds; send fewer files per request",
        )


def submit(
    batcher: MicroBatcher, planned: Sequence[Planned], deadline: float | None
) -> list[asyncio.Future[ScoredSnippet]]:
    """Every unit of every input queued at once (all or none: the batcher's admission)."""
    return batcher.submit([u for p in planned for u in p.units], deadline=deadline)


async def submit_when_ready(
    batcher: MicroBatcher, planned: Planned, deadline: float | None
) -> list[asyncio.Future[ScoredSnippet]]:
    """One input's units, each waiting for queue room as a stream's snippets do; on failure the
    units already queued are cancelled (the worker then skips them)."""
    futures: list[asyncio.Future[ScoredSnippet]] = []
    try:
        for unit in planned.units:
            futures.append(await batcher.submit_when_ready(unit, deadline=deadline))
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    return futures


async def gather(futures: Sequence[asyncio.Future[ScoredSnippet]]) -> list[ScoredSnippet]:
    """Await every future; if one fails or the RPC is cancelled, cancel the rest so the worker
    skips them."""
    try:
        return list(await asyncio.gather(*futures))
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


def _judge_all(
    scorer: Scorer, planned: Sequence[Planned], scored: Sequence[ScoredSnippet]
) -> list[ScoredSnippet]:
    out, at = [], 0
    for p in planned:
        out.append(scorer.judge(p.snippet, p.plan, scored[at : at + len(p.units)]))
        at += len(p.units)
    return out


async def judge_all(
    scorer: Scorer, planned: Sequence[Planned], scored: Sequence[ScoredSnippet]
) -> list[ScoredSnippet]:
    """Each input's result from its units' results (`scored`, in the order `submit` queued
    them); a file's judgement (a mean over its units' signals) off the event loop."""
    if any(p.split for p in planned):
        return await asyncio.to_thread(_judge_all, scorer, planned, scored)
    return _judge_all(scorer, planned, scored)
