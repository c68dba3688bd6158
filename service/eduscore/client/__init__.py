"""Clients of the gRPC API: `EduScoreClient` (blocking) and `AsyncEduScoreClient` (grpc.aio).

Both have the same methods (`score`, `score_batch`, `score_stream`, `model_info`, `healthy`,
`wait_ready`) and return plain dataclasses, not protobuf messages. Unary calls retry UNAVAILABLE
and RESOURCE_EXHAUSTED with jittered exponential backoff within their deadline, moving to the
next address each time; several addresses are used round-robin. Scoring calls take `tier=`
("full", "fast" or "cascade"; None: the server's default) and each result says which decided,
and `units=True` to get back the units (functions, classes, ...) of inputs long enough to be
split, each with its own score (`ScoreResult.units`).

Imports only grpc, protobuf and the generated eduscore.v1 code: `pip install eduscore` (no
extras, no torch) is enough to call a server.
"""

from __future__ import annotations

from eduscore.client.aio import AsyncEduScoreClient
from eduscore.client.common import NO_RETRY, RetryPolicy
from eduscore.client.results import (
    Limits,
    ModelInfo,
    ScoreResult,
    SnippetIn,
    TierInfo,
    UnitResult,
)
from eduscore.client.sync import EduScoreClient

__all__ = [
    "NO_RETRY",
    "AsyncEduScoreClient",
    "EduScoreClient",
    "Limits",
    "ModelInfo",
    "RetryPolicy",
    "ScoreResult",
    "SnippetIn",
    "TierInfo",
    "UnitResult",
]
