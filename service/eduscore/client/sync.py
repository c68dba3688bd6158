"""EduScoreClient: the blocking client."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

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


class EduScoreClient(Common):
    """Blocking client of one or several eduscore servers.

    Args:
        addresses: one or more `host:port`; several are used round-robin.
        timeout_s: deadline of each unary call, retries included (`timeout_s=` per call too).
        stream_timeout_s: deadline of a whole `score_stream` (None: none).
        token: bearer token, if the server requires one.
        tls: speak TLS, trusting the system's CAs unless `root_certificates` is given.
        root_certificates: PEM CA bundle to trust; implies TLS.
        client_cert: (PEM private key, PEM certificate chain) for mutual TLS.
        max_message_bytes: largest message sent or received.
        retry: retries of unary calls (`NO_RETRY` to turn them off).

    Scoring calls take `threshold=` and `tier=` ("full", "fast", "cascade"; None: the server's
    default, `model_info().default_tier`); an unknown tier is INVALID_ARGUMENT, one the server
    did not load FAILED_PRECONDITION. With `units=True` a result of an input longer than one
    unit (3,000 characters) carries its units (`ScoreResult.units`); a file with more units
    than the server's --max-file-units is INVALID_ARGUMENT.
    """

    def _open(self, address: str) -> Any:
        if self._creds:
            return grpc.secure_channel(address, self._creds, options=self._options)
        return grpc.insecure_channel(address, options=self._options)

    def __enter__(self) -> EduScoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for ch in self.channels:
            ch.close()

    def _unary(self, method: str, request: Any, timeout_s: float | None) -> Any:
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        for attempt in range(self.retry.attempts):
            stub = self._stubs[self._pick()]
            try:
                return getattr(stub, method)(
                    request, timeout=self._left(deadline), metadata=self._metadata
                )
            except grpc.RpcError as exc:
                wait = self.retry.delay(attempt)
                last = attempt == self.retry.attempts - 1
                if last or not self.retry.retryable(exc) or wait >= self._left(deadline):
                    raise
                time.sleep(wait)
        raise AssertionError("unreachable: the last attempt raises")

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until some address connects (not until its model is loaded: see `healthy`).

        Raises grpc.FutureTimeoutError if none does in time.
        """
        futures = [grpc.channel_ready_future(ch) for ch in self.channels]
        deadline = time.monotonic() + timeout_s
        try:
            while not any(f.done() for f in futures):
                if time.monotonic() > deadline:
                    raise grpc.FutureTimeoutError()
                time.sleep(0.02)
        finally:
            for f in futures:
                f.cancel()

    def healthy(self, service: str = "") -> bool:
        """True iff the next server's health service says SERVING."""
        check = self.channels[self._pick()].unary_unary(HEALTH_CHECK)
        try:
            reply = check(health_request(service), timeout=self.timeout_s)
        except grpc.RpcError:
            return False
        return health_status(reply) == SERVING

    def score(
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
        return ScoreResult.from_message(self._unary("Score", req, timeout_s))

    def score_batch(
        self,
        snippets: Iterable[SnippetIn],
        *,
        threshold: float | None = None,
        tier: str | None = None,
        units: bool = False,
        timeout_s: float | None = None,
    ) -> list[ScoreResult]:
        reply = self._unary(
            "ScoreBatch", batch_request(snippets, threshold, tier, units), timeout_s
        )
        return [ScoreResult.from_message(r) for r in reply.results]

    def score_stream(
        self,
        snippets: Iterable[SnippetIn],
        *,
        threshold: float | None = None,
        tier: str | None = None,
        units: bool = False,
    ) -> Iterator[ScoreResult]:
        """Results in input order. Not retried (the input cannot be replayed); the server's
        flow control paces how fast `snippets` is read."""
        requests = (stream_request(s, threshold, tier, units) for s in snippets)
        stub = self._stubs[self._pick()]
        call = stub.ScoreStream(requests, timeout=self.stream_timeout_s, metadata=self._metadata)
        return (ScoreResult.from_message(r) for r in call)

    def model_info(self, *, timeout_s: float | None = None) -> ModelInfo:
        reply = self._unary("GetModelInfo", pb.GetModelInfoRequest(), timeout_s)
        return ModelInfo.from_message(reply)
