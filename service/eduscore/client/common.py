"""What both clients share: retry policy, channel options and credentials, request building."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from eduscore.client.results import SnippetIn
from eduscore.v1 import eduscore_pb2 as pb
from eduscore.v1 import eduscore_pb2_grpc as pb_grpc

# One name may resolve to many servers (a headless Service): spread calls over all of them.
_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING = 1  # grpc.health.v1.HealthCheckResponse.SERVING


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of unary calls: `attempts` in all, waits doubling up to `max_backoff_s`."""

    attempts: int = 5
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    codes: frozenset[grpc.StatusCode] = field(
        default=frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
    )

    def delay(self, attempt: int) -> float:
        """Full jitter (0..cap): callers refused together do not come back together."""
        cap = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**attempt)
        return random.uniform(0.0, cap)

    def retryable(self, exc: grpc.RpcError) -> bool:
        code = exc.code()  # type: ignore[attr-defined]
        # gRPC's own size limit is RESOURCE_EXHAUSTED too, but a resend is as large.
        too_large = "larger than max" in (exc.details() or "")  # type: ignore[attr-defined]
        return code in self.codes and not too_large


NO_RETRY = RetryPolicy(attempts=1)


def with_options(req: Any, threshold: float | None, tier: str | None, units: bool = False) -> Any:
    """Set what the caller chose; unset fields leave the server's defaults in force."""
    if threshold is not None:
        req.threshold = threshold
    if tier:
        req.tier = tier
    if units:
        req.units = True
    return req


def score_request(
    code: str,
    id: str,
    language: str,
    threshold: float | None,
    tier: str | None = None,
    units: bool = False,
) -> pb.ScoreRequest:
    snippet = pb.Snippet(id=id, code=code, language=language)
    return with_options(pb.ScoreRequest(snippet=snippet), threshold, tier, units)


def stream_request(
    s: SnippetIn, threshold: float | None, tier: str | None, units: bool = False
) -> pb.ScoreRequest:
    return with_options(pb.ScoreRequest(snippet=s.message()), threshold, tier, units)


def batch_request(
    snippets: Iterable[SnippetIn],
    threshold: float | None,
    tier: str | None = None,
    units: bool = False,
) -> pb.ScoreBatchRequest:
    req = pb.ScoreBatchRequest(snippets=[s.message() for s in snippets])
    return with_options(req, threshold, tier, units)


def health_request(service: str) -> bytes:
    """grpc.health.v1.HealthCheckRequest{service}, encoded by hand: the client needs no
    grpcio-health-checking (a server extra) for one string field."""
    raw = service.encode()
    if not raw:
        return b""
    if len(raw) > 127:
        raise ValueError("service name too long")
    return b"\x0a" + bytes([len(raw)]) + raw


def health_status(reply: bytes) -> int:
    """`status` (field 1, a varint) of a HealthCheckResponse; 0 (UNKNOWN) when absent."""
    if len(reply) >= 2 and reply[0] == 0x08:
        return reply[1] & 0x7F
    return 0


class Common:
    """What both clients share: addresses, options, credentials, round-robin, metadata."""

    def __init__(
        self,
        addresses: str | Sequence[str],
        *,
        timeout_s: float = 60.0,
        stream_timeout_s: float | None = None,
        token: str = "",
        tls: bool = False,
        root_certificates: bytes | None = None,
        client_cert: tuple[bytes, bytes] | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.addresses = [addresses] if isinstance(addresses, str) else list(addresses)
        if not self.addresses:
            raise ValueError("give at least one host:port address")
        self.timeout_s = timeout_s
        self.stream_timeout_s = stream_timeout_s
        self.retry = retry
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._options = [
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._creds: grpc.ChannelCredentials | None = None
        if tls or root_certificates is not None or client_cert is not None:
            key, chain = client_cert if client_cert else (None, None)
            self._creds = grpc.ssl_channel_credentials(root_certificates, key, chain)
        self._next = random.randrange(len(self.addresses))  # clients do not all start on one
        self.channels = [self._open(a) for a in self.addresses]
        self._stubs = [pb_grpc.EduScorerStub(ch) for ch in self.channels]

    def _open(self, address: str) -> Any:
        """A channel to `address` (grpc or grpc.aio: the subclass decides)."""
        raise NotImplementedError

    def _pick(self) -> int:
        self._next = (self._next + 1) % len(self.addresses)
        return self._next

    def _left(self, deadline: float) -> float:
        return max(0.0, deadline - time.monotonic())
