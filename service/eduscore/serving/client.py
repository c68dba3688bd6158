"""Moved to `eduscore.client` (importable without the server's dependencies); kept so existing
`from eduscore.serving.client import EduScoreClient, SnippetIn` goes on working."""

from __future__ import annotations

from eduscore.client import (
    NO_RETRY,
    AsyncEduScoreClient,
    EduScoreClient,
    Limits,
    ModelInfo,
    RetryPolicy,
    ScoreResult,
    SnippetIn,
)

__all__ = [
    "NO_RETRY",
    "AsyncEduScoreClient",
    "EduScoreClient",
    "Limits",
    "ModelInfo",
    "RetryPolicy",
    "ScoreResult",
    "SnippetIn",
]
