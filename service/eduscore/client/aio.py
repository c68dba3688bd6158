"""AsyncEduScoreClient: the asyncio (grpc.aio) client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import grpc
import grpc.aio

from eduscore.client.common import (
    HEALTH_CHECK,
    SERVING,
    Common,
    batch_request,
    health_request,
    health_status,
    score_request,
    stream_request,
)
from eduscore.client.results import ModelInfo, ScoreResult, SnippetIn
from eduscore.v1 import eduscore_pb2 as pb


class AsyncEduScoreClient(Common):
    """The same client for asyncio (grpc.aio): every method is a coroutine, `score_stream` an
    async iterator. Create it inside the event loop that uses it. Arguments: `EduScoreClient`."""

    def _open(self, address: str) -> Any:
        if self._creds:
            return grpc.aio.secure_channel(address, self._creds, options=self._options)
        return grpc.aio.insecure_channel(address, options=self._options)

    async def __aenter__(self) -> AsyncEduScoreClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await asyncio.gather(*(ch.close() for ch in self.channels))

    async def _unary(self, method: str, request: Any, timeout_s: float | None) -> Any:
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        for attempt in range(self.retry.attempts):
            stub = self._stubs[self._pick()]
            try:
                return await getattr(stub, method)(
                    request, timeout=self._left(deadline), metadata=self._metadata
                )
            except grpc.aio.AioRpcError as exc:
                wait = self.retry.delay(attempt)
                last = attempt == self.retry.attempts - 1
                if last or not self.retry.retryable(exc) or wait >= self._left(deadline):
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt raises")

    async def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Until some address connects; raises TimeoutError if none does in time."""
        waits = [asyncio.ensure_future(ch.channel_ready()) for ch in self.channels]
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout_s, return_when="FIRST_COMPLETED")
            if not done:
                raise TimeoutError(f"no server reachable at {', '.join(self.addresses)}")
        finally:
            for w in waits:
                w.cancel()

    async def healthy(self, service: str = "") -> bool:
        check = self.channels[self._pick()].unary_unary(HEALTH_CHECK)
        try:
            reply = await check(health_request(service), timeout=self.timeout_s)
        except grpc.aio.AioRpcError:
            return False
        return health_status(reply) == SERVING

    async def score(
        self,
        code: str,
        *,
        id: str = "",
        language: str = "",
        threshold: float | None = None,
        tier: str | None = None,
        units: bool = False,
        timeout_s: float | None = None,
    ) -> ScoreResult:
        req = score_request(code, id, language, threshold, tier, units)
        return ScoreResult.from_message(await self._unary("Score", req, timeout_s))

    async def score_batch(
        self,
        snippets: Iterable[SnippetIn],
        *,
        threshold: float | None = None,
        tier: str | None = None,
        units: bool = False,
        timeout_s: float | None = None,
    ) -> list[ScoreResult]:
        reply = await self._unary(
            "ScoreBatch", batch_request(snippets, threshold, tier, units), timeout_s
        )
        return [ScoreResult.from_message(r) for r in reply.results]

    async def score_stream(
        self,
        snippets: Iterable[SnippetIn] | AsyncIterable[SnippetIn],
        *,
        threshold: float | None = None,
        tier: str | None = None,
        units: bool = False,
    ) -> AsyncIterator[ScoreResult]:
        """Results in input order, from a plain or an async iterable. Not retried."""

        async def requests() -> AsyncIterator[pb.ScoreRequest]:
            if isinstance(snippets, AsyncIterable):
                async for s in snippets:
                    yield stream_request(s, threshold, tier, units)
            else:
                for s in snippets:
                    yield stream_request(s, threshold, tier, units)

        stub = self._stubs[self._pick()]
        call = stub.ScoreStream(requests(), timeout=self.stream_timeout_s, metadata=self._metadata)
        async for reply in call:
            yield ScoreResult.from_message(reply)

    async def model_info(self, *, timeout_s: float | None = None) -> ModelInfo:
        reply = await self._unary("GetModelInfo", pb.GetModelInfoRequest(), timeout_s)
        return ModelInfo.from_message(reply)
