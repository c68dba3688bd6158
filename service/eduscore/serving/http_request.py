"""Reading an HTTP/JSON request: its body within byte budgets, then JSON into a proto message.

A body is counted against a budget shared by every request before any of it is read, and stays
counted until it is parsed: concurrent uploads cannot make the server hold more undigested JSON
than the budget (the larger of --max-queue-bytes and --max-message-bytes), however many
arrive at once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from eduscore.errors import InvalidInput, Overloaded

#: grpc-gateway's table (runtime.HTTPStatusFromCode) for the codes this API returns.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])")
_UNIT_S = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


class ApiError(Exception):
    """An error response: a gRPC code, a message the caller can act on, optional status/headers."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or HTTP_STATUS.get(code, 500)
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {"code": self.code.name, "message": self.message}
        return web.json_response(body, status=self.status, headers=self.headers)


def too_large(size: int | None, limit: int, flag: str) -> ApiError:
    """413: a body no state of the server could accept; sent again as it is, it fails again."""
    what = "request body" if size is None else f"request body of {size} bytes"
    return ApiError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"{what} exceeds {flag}={limit}; split the batch",
        status=413,
    )


class BodyBudget:
    """Bytes of request bodies being read or parsed at once (on one event loop: no lock).

    The budget is the larger of --max-queue-bytes and --max-message-bytes, so any one body
    the server accepts fits alone: a body over --max-message-bytes is 413 (it never fits), one
    that does not fit beside the bodies being read now is 429 (retry).
    """

    def __init__(self, *, max_queue_bytes: int, max_body: int) -> None:
        self.limit, self.max_body = max(max_queue_bytes, max_body), max_body
        self.in_use = 0

    def take(self, n: int) -> None:
        if self.in_use + n > self.limit:
            raise Overloaded(
                f"request bodies being read: {self.in_use} bytes; {n} more exceed their budget"
                f" of {self.limit} bytes (the larger of --max-queue-bytes and"
                " --max-message-bytes); retry with backoff"
            )
        self.in_use += n

    def release(self, n: int) -> None:
        self.in_use -= n

    @asynccontextmanager
    async def body(self, request: web.Request) -> AsyncIterator[bytes]:
        """The body, counted from before its first byte is read until the block ends.

        A declared Content-Length is taken whole up front; a chunked body chunk by chunk.
        """
        held = 0
        try:
            declared = request.content_length
            if declared is not None:
                if declared > self.max_body:
                    raise too_large(declared, self.max_body, "--max-message-bytes")
                self.take(declared)
                held = declared
            chunks, size = [], 0
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > self.max_body:
                    raise too_large(None, self.max_body, "--max-message-bytes")
                if size > held:
                    self.take(size - held)
                    held = size
                chunks.append(chunk)
            yield b"".join(chunks)
        finally:
            self.release(held)


# Checked before ParseDict: its messages for a wrongly shaped field are confusing.
_SHAPES: dict[str, tuple[type, ...]] = {
    "snippet": (dict,),
    "snippets": (list,),
    "threshold": (int, float),
    "tier": (str,),
    "units": (bool,),
}


async def parse(request: web.Request, message: Message, budget: BodyBudget) -> Message:
    """The body as `message`; malformed JSON, unknown or mistyped fields are INVALID_ARGUMENT."""
    async with budget.body(request) as raw:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput("request body", f"not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise InvalidInput("request body", "must be a JSON object")
        for name, kinds in _SHAPES.items():
            value = body.get(name)
            wrong_bool = isinstance(value, bool) and bool not in kinds  # bool is an int
            if value is not None and (not isinstance(value, kinds) or wrong_bool):
                kind = {
                    (dict,): "an object",
                    (list,): "an array",
                    (str,): "a string",
                    (bool,): "true or false",
                }.get(kinds, "a number")
                raise InvalidInput(name, f"must be {kind}, got {type(value).__name__}")
        try:
            return json_format.ParseDict(body, message)
        except json_format.ParseError as exc:
            raise InvalidInput("request body", str(exc).replace("\n", " ")) from None


def deadline_of(request: web.Request) -> float | None:
    """grpc-gateway's `Grpc-Timeout` header (e.g. `500m`, `2S`) as a time.monotonic() deadline."""
    raw = request.headers.get("Grpc-Timeout")
    if raw is None:
        return None
    m = _TIMEOUT.fullmatch(raw.strip())
    if m is None:
        raise InvalidInput("Grpc-Timeout", f"{raw!r} is not a gRPC timeout such as 500m or 2S")
    return time.monotonic() + int(m[1]) * _UNIT_S[m[2]]
