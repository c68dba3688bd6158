"""The EduScorer servicer and the unary calls it shares with the HTTP/JSON API.

Validation, the batcher and limits in one place, so gRPC and HTTP cannot drift apart; the
server lifecycle (serving/server.py) only builds and runs it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from eduscore import metrics
from eduscore.config import Settings
from eduscore.errors import ShuttingDown
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.serving import units, validation
from eduscore.serving.batching import MicroBatcher
from eduscore.serving.model_info import model_info
from eduscore.serving.status import abort_for
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from eduscore.serving.app import App


def _n_snippets(request: Any) -> int:
    if isinstance(request, pb.ScoreBatchRequest):
        return len(request.snippets)
    return 1 if isinstance(request, pb.ScoreRequest) else 0


def _edge(method: Callable[..., Any]) -> Callable[..., Any]:
    """Map exceptions of a unary handler to statuses; never leak a traceback."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as exc:
            await abort_for(exc, context, _n_snippets(request))

    return wrapper


def _deadline(context: grpc.aio.ServicerContext) -> float | None:
    left = context.time_remaining()
    return None if left is None else time.monotonic() + left


def _observe(results: list[pb.ScoreResult]) -> None:
    for r in results:
        metrics.score_distribution.observe(r.score)
        metrics.decisions.labels("keep" if r.keep else "drop").inc()


class EduScorerServicer(pb_grpc.EduScorerServicer):
    """Validates, hands snippets to the batcher, converts results. No logic of its own."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _batcher(self, n: int) -> MicroBatcher:
        return batcher_of(self.app, n)

    @_edge
    async def Score(self, request: pb.ScoreRequest, context: Any) -> pb.ScoreResult:
        return await score_one(self.app, request, _deadline(context))

    @_edge
    async def ScoreBatch(
        self, request: pb.ScoreBatchRequest, context: Any
    ) -> pb.ScoreBatchResponse:
        return await score_many(self.app, request, _deadline(context))

    async def ScoreStream(
        self, request_iterator: AsyncIterator[pb.ScoreRequest], context: Any
    ) -> AsyncIterator[pb.ScoreResult]:
        """Pipelined: a reader keeps up to --max-stream-inflight items queued; answers in order.
        A file's units wait for queue room one by one, as the snippets of a stream do."""
        s = self.app.settings
        window: asyncio.Queue[Any] = asyncio.Queue(maxsize=s.max_stream_inflight)
        done = object()

        async def read() -> None:
            try:
                n = 0
                async for request in request_iterator:
                    await window.put(await self._queue_item(request, n, _deadline(context)))
                    n += 1
                await window.put(done)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                await window.put(exc)

        reader = asyncio.create_task(read())
        try:
            while True:
                item = await window.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    await abort_for(item, context, 1)
                planned, futures, threshold, with_units = item
                try:
                    scored = await units.gather(futures)
                    (result,) = await units.judge_all(scorer_of(self.app), [planned], scored)
                except (grpc.aio.AbortError, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    await abort_for(exc, context, 1)
                out = validation.result_message(
                    result, threshold, planned.snippet.id, units=with_units
                )
                _observe([out])
                yield out
        finally:
            reader.cancel()
            while not window.empty():
                item = window.get_nowait()
                if isinstance(item, tuple):
                    for fut in item[1]:
                        fut.cancel()

    async def _queue_item(self, request: pb.ScoreRequest, n: int, deadline: float | None) -> Any:
        """Validate and plan the stream's `n`th item, queue its units as room frees up."""
        s = self.app.settings
        field = f"request[{n}] (id={validation.short_id(request.snippet.id)}).snippet"
        threshold = validation.threshold_of(request, s.threshold)
        snippet = validation.snippet_of(
            request.snippet,
            field,
            bounds_of(s),
            tier=validation.tier_of(request.tier, self.app.scorer),
            threshold=threshold,
        )
        batcher = self._batcher(1)
        (planned,) = await units.plan_all(batcher.scorer, [snippet], [field])
        futures = await units.submit_when_ready(batcher, planned, deadline)
        return planned, futures, threshold, request.units

    @_edge
    async def GetModelInfo(self, request: pb.GetModelInfoRequest, context: Any) -> pb.ModelInfo:
        return model_info_of(self.app)


# The unary calls, shared by the gRPC servicer and the HTTP/JSON API (serving/http_api.py) so
# both go through the same validation, batcher and limits. `deadline` is time.monotonic().


@functools.cache
def bounds_of(s: Settings) -> validation.Bounds:
    """The request limits of these settings (built once per Settings: it is frozen)."""
    return validation.Bounds(
        max_snippet_bytes=s.max_snippet_bytes,
        max_id_bytes=s.max_id_bytes,
        max_batch_snippets=s.max_batch_snippets,
        max_queue_bytes=s.max_queue_bytes,
    )


def batcher_of(app: App, n: int = 1) -> MicroBatcher:
    """The batcher, or ShuttingDown (its `n` snippets counted) while the model loads."""
    if app.batcher is None:
        metrics.rejected.labels("shutting_down").inc(n)
        raise ShuttingDown("the model is still loading; retry shortly")
    return app.batcher


def scorer_of(app: App) -> Scorer:
    """The loaded scorer, or ShuttingDown while the model loads."""
    if app.scorer is None:
        raise ShuttingDown("the model is still loading; retry shortly")
    return app.scorer


async def score_one(app: App, request: pb.ScoreRequest, deadline: float | None) -> pb.ScoreResult:
    s = app.settings
    threshold = validation.threshold_of(request, s.threshold)
    tier = validation.tier_of(request.tier, app.scorer)
    snippet = validation.snippet_of(
        request.snippet, "snippet", bounds_of(s), tier=tier, threshold=threshold
    )
    (out,) = await _score(app, [snippet], ["snippet"], threshold, request.units, deadline)
    return out


async def score_many(
    app: App, request: pb.ScoreBatchRequest, deadline: float | None
) -> pb.ScoreBatchResponse:
    s = app.settings
    threshold = validation.threshold_of(request, s.threshold)
    snippets = validation.batch_of(
        request,
        bounds_of(s),
        tier=validation.tier_of(request.tier, app.scorer),
        threshold=threshold,
    )
    fields = [f"snippets[{i}]" for i in range(len(snippets))]
    out = await _score(app, snippets, fields, threshold, request.units, deadline)
    return pb.ScoreBatchResponse(results=out)


async def _score(
    app: App,
    snippets: list[Snippet],
    fields: list[str],
    threshold: float,
    with_units: bool,
    deadline: float | None,
) -> list[pb.ScoreResult]:
    """Validated inputs planned, their units queued together, each input judged; in order."""
    batcher = batcher_of(app, len(snippets))
    planned = await units.plan_all(batcher.scorer, snippets, fields)
    units.check_fits(planned, app.settings.max_queue_size)
    scored = await units.gather(units.submit(batcher, planned, deadline))
    results = await units.judge_all(batcher.scorer, planned, scored)
    out = [
        validation.result_message(r, threshold, snip.id, units=with_units)
        for r, snip in zip(results, snippets, strict=True)
    ]
    _observe(out)
    return out


def model_info_of(app: App) -> pb.ModelInfo:
    return model_info(scorer_of(app), app.settings)
