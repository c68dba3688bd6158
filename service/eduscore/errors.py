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
    """The queue is full: the caller should back off and retry."""


class ShuttingDown(EduScoreError):
    """The server is draining or its worker has stopped; no new work is accepted."""


class DeadlineExpired(EduScoreError):
    """The caller's deadline passed before the item reached the model."""


class ModelLoadError(EduScoreError):
    """The encoder or classifier cannot be loaded, or they do not belong together."""
