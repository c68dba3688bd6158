"""The OpenAPI document's schemas: the proto's messages as JSON Schema (serving/openapi.py)."""

from __future__ import annotations

from typing import Any

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object: unknown fields are an error, as proto JSON parsing makes them."""
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _all(props: dict[str, Any]) -> dict[str, Any]:
    return _obj(props, list(props))


_STR = {"type": "string"}
_INT = {"type": "integer", "format": "int32"}
_BOOL = {"type": "boolean"}
_NUM = {"type": "number"}
_THRESHOLD = {
    "type": "number",
    "minimum": 0,
    "maximum": 5,
    "description": "Keep threshold on the 0-5 scale; the server default when absent.",
}

_TIER = {
    "type": "string",
    "description": "full, fast or cascade; empty or absent: the server's --tier. A tier the"
    " server does not run (a fast-only server has no encoder) is a 400 FAILED_PRECONDITION.",
}
_METRICS = {"type": "object", "additionalProperties": _NUM}
_UNITS = {
    "type": "boolean",
    "description": "Return the units of each input longer than one unit (3,000 characters) in"
    " its result's `units`. Off by default: a file may have hundreds.",
}
_LINE = {"type": "integer", "format": "int32", "minimum": 1}

SCHEMAS: dict[str, Any] = {
    "Snippet": _obj(
        {
            "id": {
                **_STR,
                "description": "Caller's identifier, echoed back. May be empty; at most"
                " limits.max_id_bytes UTF-8 bytes (--max-id-bytes, default 1024).",
            },
            "code": {**_STR, "description": "The code text (UTF-8, no NUL). Never executed."},
            "language": {
                **_STR,
                "description": "Optional hint (python, yaml, ...); empty or unknown: detected.",
            },
        },
        ["code"],
    ),
    "ScoreRequest": _obj(
        {"snippet": _ref("Snippet"), "threshold": _THRESHOLD, "tier": _TIER, "units": _UNITS},
        ["snippet"],
    ),
    "ScoreBatchRequest": _obj(
        {
            "snippets": {"type": "array", "items": _ref("Snippet"), "minItems": 1},
            "threshold": _THRESHOLD,
            "tier": _TIER,
            "units": _UNITS,
        },
        ["snippets"],
    ),
    "ScoreResult": _all(
        {
            "id": _STR,
            "score": {**_NUM, "description": "Educational value on the rubric's 0-5 scale."},
            "keep": {**_BOOL, "description": "score >= threshold"},
            "label": {**_INT, "minimum": 0, "maximum": 5},
            "threshold": _NUM,
            "model_version": _STR,
            "signals": {
                "type": "object",
                "additionalProperties": _NUM,
                "description": "Structural signals; of a split input, its units' length-weighted"
                " means.",
            },
            "n_tokens": {
                **_INT,
                "description": "Encoder tokens before truncation; of a split input, the sum of"
                " its units'.",
            },
            "truncated": {
                **_BOOL,
                "description": "Only a prefix was embedded; of a split input, of any unit.",
            },
            "language": _STR,
            "tier": {
                "type": "string",
                "enum": ["full", "fast"],
                "description": "The tier whose model decided the score.",
            },
            "units": {
                "type": "array",
                "items": _ref("UnitResult"),
                "description": "A split input's units in file order, when the request set"
                " `units`; else, and for an input of one unit, empty.",
            },
        }
    ),
    "UnitResult": _all(
        {
            "kind": {
                **_STR,
                "description": "What the unit is: head (docstring, imports, constants),"
                " function, class, method, block (code between declarations) or piece (lines of"
                " a text without declarations).",
            },
            "name": {**_STR, "description": "The declared name; empty for head, block, piece."},
            "start_line": {**_LINE, "description": "First line in the input, 1-based."},
            "end_line": {**_LINE, "description": "Last line in the input, inclusive."},
            "language": {**_STR, "description": "The format it was scored as (the input's)."},
            "score": {**_NUM, "description": "The unit's own score on the 0-5 scale."},
            "keep": {**_BOOL, "description": "score >= the request's threshold"},
        }
    ),
    "ScoreBatchResponse": _all({"results": {"type": "array", "items": _ref("ScoreResult")}}),
    "Limits": _all(
        {
            name: _INT
            for name in (
                "max_batch_snippets",
                "max_snippet_bytes",
                "max_batch_size",
                "max_stream_inflight",
                "max_seq_length",
                "max_message_bytes",
                "max_queue_size",
                "max_id_bytes",
            )
        }
        # int64: proto's JSON mapping writes it as a string of digits.
        | {"max_queue_bytes": {"type": "string", "format": "int64", "pattern": "^[0-9]+$"}}
    ),
    "ModelInfo": _all(
        {
            "model_version": _STR,
            "embedding_model": _STR,
            "embedding_dim": _INT,
            "classifier": _STR,
            "default_threshold": _NUM,
            "label_min": _NUM,
            "label_max": _NUM,
            "training_data_sha256": _STR,
            "training_data_size": _INT,
            "metrics": {"type": "object", "additionalProperties": _NUM},
            "signal_names": {"type": "array", "items": _STR},
            "limits": _ref("Limits"),
            "server_version": _STR,
            "default_tier": _STR,
            "tiers": {"type": "object", "additionalProperties": _ref("TierInfo")},
        }
    ),
    "TierInfo": _all(
        {
            "embedding_model": _STR,
            "embedding_dim": _INT,
            "max_seq_length": _INT,
            "metrics": _METRICS,
            "band_lo": _NUM,
            "band_hi": _NUM,
            "escalated_share": _NUM,
            "bands": {"type": "array", "items": _ref("CascadeBand")},
        }
    ),
    "CascadeBand": _all(
        {
            "threshold": _NUM,
            "band_lo": _NUM,
            "band_hi": _NUM,
            "escalated_share": _NUM,
            "disagreement": _NUM,
        }
    ),
    "Health": _all({"status": {"type": "string", "enum": ["SERVING", "NOT_SERVING"]}}),
    "Error": _all(
        {
            "code": {
                "type": "string",
                "description": "The gRPC status code name, e.g. INVALID_ARGUMENT.",
            },
            "message": {"type": "string", "description": "What was wrong and what to do."},
        }
    ),
}
