"""Domain errors. A leaf: imports nothing from eduscore; only the server maps them to gRPC codes."""

from __future__ import annotations


class EduScoreError(Exception):
    """Base class of every error eduscore raises on purpose."""


class InvalidInput(EduScoreError):
    """A request field is unusable; the message names the field and the limit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Overloaded(EduScoreError):
    """The server cannot take the work now: the caller should back off and retry."""


class QueueFull(Overloaded):
    """The queue has no room (snippets or bytes) now; room frees up as batches finish."""


class TierUnavailable(EduScoreError):
    """The request names a tier this server did not load (a fast-only server has no encoder)."""


class ShuttingDown(EduScoreError):
    """The server is draining or its worker has stopped; no new work is accepted."""


class DeadlineExpired(EduScoreError):
    """The caller's deadline passed before the item reached the model."""


class ModelLoadError(EduScoreError):
    """The encoder or classifier cannot be loaded, or they do not belong together."""
