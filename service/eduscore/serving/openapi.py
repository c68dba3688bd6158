"""The OpenAPI 3 document of the HTTP/JSON API (served at /openapi.json; fuzzed by the tests).

Written by hand from proto/eduscore/v1/eduscore.proto: field names are the proto's, and every
response field is always present (the API prints fields with default values too).
"""

from __future__ import annotations

from typing import Any

from eduscore import __version__
from eduscore.serving.openapi_schemas import _INT, SCHEMAS, _ref


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": _INT}}
_ERRORS = {
    "400": _error(
        "INVALID_ARGUMENT: malformed JSON, unknown or mistyped field, bad value;"
        " FAILED_PRECONDITION: a tier this server does not run."
    ),
    "401": _error("UNAUTHENTICATED: missing or wrong bearer token."),
    "429": {
        **_error(
            "RESOURCE_EXHAUSTED: the queue is full, its wait exceeds Grpc-Timeout, or the"
            " request bodies being read at once fill their budget; retry with backoff."
        ),
        "headers": _RETRY_AFTER,
    },
    "500": _error("INTERNAL: a bug; the message carries a request id for the server log."),
    "503": _error("UNAVAILABLE: the model is loading or the server is draining."),
    "504": _error("DEADLINE_EXCEEDED: Grpc-Timeout passed before the result."),
}
_SCORING_ERRORS = {**_ERRORS, "413": _error("RESOURCE_EXHAUSTED: body over --max-message-bytes.")}
_TIMEOUT_HEADER = {
    "name": "Grpc-Timeout",
    "in": "header",
    "required": False,
    "description": "Deadline, as in gRPC: digits and a unit (H, M, S, m, u, n), e.g. 500m.",
    "schema": {"type": "string", "pattern": "^[0-9]{1,8}[HMSmun]$"},
}
_SECURED = [{"bearer": []}]


def _post(op_id: str, summary: str, request: str, response: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": op_id,
            "summary": summary,
            "security": _SECURED,
            "parameters": [_TIMEOUT_HEADER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(request)}},
            },
            "responses": {"200": _json(_ref(response), "Scored."), **_SCORING_ERRORS},
        }
    }


DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "eduscore",
        "version": __version__,
        "description": "Rates the educational value of code snippets (0-5). The same service"
        " as the gRPC API eduscore.v1.EduScorer, with the same limits and messages.",
    },
    "paths": {
        "/v1/score": _post("score", "Score one snippet.", "ScoreRequest", "ScoreResult"),
        "/v1/score_batch": _post(
            "scoreBatch",
            "Score many snippets; results in request order.",
            "ScoreBatchRequest",
            "ScoreBatchResponse",
        ),
        "/v1/model": {
            "get": {
                "operationId": "modelInfo",
                "summary": "The model, its training data and metrics, and the server's limits.",
                "security": _SECURED,
                "responses": {"200": _json(_ref("ModelInfo"), "The model."), **_ERRORS},
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "200 when SERVING; 503 while loading or draining.",
                "security": [],
                "responses": {
                    "200": _json(_ref("Health"), "Serving."),
                    "503": _json(_ref("Health"), "Not serving."),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}
