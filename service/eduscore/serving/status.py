"""The one table from domain error to gRPC status, and the abort that applies it.

Shared by the gRPC servicer and the HTTP/JSON API, so both answer an error with the same code.
"""

from __future__ import annotations

import logging
import uuid

import grpc

from eduscore import metrics
from eduscore.errors import (
    DeadlineExpired,
    EduScoreError,
    InvalidInput,
    ModelLoadError,
    Overloaded,
    ShuttingDown,
    TierUnavailable,
)

log = logging.getLogger(__name__)

#: The one table from domain error to gRPC status; a subclass maps as its nearest listed base
#: (QueueFull as Overloaded). tests/test_errors.py checks that every EduScoreError is covered.
STATUS_OF: dict[type[EduScoreError], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    Overloaded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    # The server runs, but not the tier asked for: retrying here cannot help.
    TierUnavailable: grpc.StatusCode.FAILED_PRECONDITION,
    DeadlineExpired: grpc.StatusCode.DEADLINE_EXCEEDED,
    # Raised while loading, before any RPC is served; listed so no domain error is INTERNAL.
    ModelLoadError: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_of(kind: type[BaseException]) -> grpc.StatusCode:
    """The status of an error type: its nearest base in STATUS_OF, else INTERNAL."""
    for base in kind.__mro__:
        if base in STATUS_OF:
            return STATUS_OF[base]
    return grpc.StatusCode.INTERNAL


async def abort_for(exc: BaseException, context: grpc.aio.ServicerContext, n: int) -> None:
    """Abort the RPC with the status that `exc` maps to; unknown errors hide their details.

    Each refused snippet is counted once, where the refusal is decided: the `n` snippets of the
    RPC here for invalid input and internal errors, queue refusals in the batcher.
    """
    code = status_of(type(exc))
    if code is not grpc.StatusCode.INTERNAL:
        if isinstance(exc, InvalidInput):
            metrics.rejected.labels("invalid").inc(n)
        await context.abort(code, str(exc))
    request_id = uuid.uuid4().hex[:12]
    log.error("internal error (request id %s)", request_id, exc_info=exc)
    metrics.rejected.labels("error").inc(n)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")
