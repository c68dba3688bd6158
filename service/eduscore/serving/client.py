"""EduScoreClient: a typed, synchronous wrapper over the generated stub.

Retries UNAVAILABLE with backoff (gRPC retry policy; overload is left to the caller),
balances round-robin over several addresses, and speaks TLS and bearer-token auth when asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc as pb_grpc

_SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {
            "name": [{"service": "eduscore.v1.EduScorer"}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.1s",
                "maxBackoff": "2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
}


@dataclass(frozen=True, slots=True)
class SnippetIn:
    """A snippet to send: `code`, optional `id` and `language` hint."""

    code: str
    id: str = ""
    language: str = ""

    def message(self) -> pb.Snippet:
        return pb.Snippet(id=self.id, code=self.code, language=self.language)


def target_of(addresses: Sequence[str]) -> str:
    """One gRPC target for one or many `host:port` addresses (many -> round-robin)."""
    if len(addresses) == 1:
        return addresses[0]
    return "ipv4:" + ",".join(a.replace("localhost", "127.0.0.1") for a in addresses)


class EduScoreClient:
    """Calls an eduscore server.

    Args:
        addresses: one or more `host:port`; several are balanced round-robin.
        timeout_s: deadline of each unary call (streams get `stream_timeout_s`).
        token: bearer token, if the server requires one.
        root_certificates: PEM CA to trust; enables TLS.
        max_message_bytes: largest message sent or received.
    """

    def __init__(
        self,
        addresses: str | Sequence[str],
        *,
        timeout_s: float = 60.0,
        stream_timeout_s: float | None = None,
        token: str = "",
        root_certificates: bytes | None = None,
        client_cert: tuple[bytes, bytes] | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        addrs = [addresses] if isinstance(addresses, str) else list(addresses)
        options: list[tuple[str, Any]] = [
            ("grpc.service_config", json.dumps(_SERVICE_CONFIG)),
            ("grpc.enable_retries", 1),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        target = target_of(addrs)
        if root_certificates is not None:
            key, chain = client_cert if client_cert else (None, None)
            creds = grpc.ssl_channel_credentials(root_certificates, key, chain)
            self.channel = grpc.secure_channel(target, creds, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.stub = pb_grpc.EduScorerStub(self.channel)
        self.health_stub = health_pb2_grpc.HealthStub(self.channel)
        self.timeout_s = timeout_s
        self.stream_timeout_s = stream_timeout_s
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def __enter__(self) -> EduScoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until the channel connects (not until the model is loaded: see `healthy`)."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout_s)

    def healthy(self, service: str = "") -> bool:
        try:
            reply = self.health_stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=self.timeout_s
            )
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def score(
        self, code: str, *, id: str = "", language: str = "", threshold: float | None = None
    ) -> pb.ScoreResult:
        req = pb.ScoreRequest(snippet=pb.Snippet(id=id, code=code, language=language))
        if threshold is not None:
            req.threshold = threshold
        return self.stub.Score(req, timeout=self.timeout_s, metadata=self._metadata)

    def score_batch(
        self, snippets: Iterable[SnippetIn], *, threshold: float | None = None
    ) -> list[pb.ScoreResult]:
        req = pb.ScoreBatchRequest(snippets=[s.message() for s in snippets])
        if threshold is not None:
            req.threshold = threshold
        reply = self.stub.ScoreBatch(req, timeout=self.timeout_s, metadata=self._metadata)
        return list(reply.results)

    def score_stream(
        self, snippets: Iterable[SnippetIn], *, threshold: float | None = None
    ) -> Iterator[pb.ScoreResult]:
        """Results in input order; the server's flow control paces how fast `snippets` is read."""

        def requests() -> Iterator[pb.ScoreRequest]:
            for s in snippets:
                req = pb.ScoreRequest(snippet=s.message())
                if threshold is not None:
                    req.threshold = threshold
                yield req

        return iter(
            self.stub.ScoreStream(
                requests(), timeout=self.stream_timeout_s, metadata=self._metadata
            )
        )

    def model_info(self) -> pb.ModelInfo:
        return self.stub.GetModelInfo(
            pb.GetModelInfoRequest(), timeout=self.timeout_s, metadata=self._metadata
        )
