"""Request validation and proto conversion at the edge, before anything is queued."""

from __future__ import annotations

import math
from dataclasses import dataclass

from eduscore.errors import InvalidInput
from eduscore.scoring.results import UnitResult
from eduscore.scoring.scorer import TIERS, ScoredSnippet, Scorer, Snippet, normalize_language
from eduscore.v1 import eduscore_pb2 as pb


def threshold_of(message: pb.ScoreRequest | pb.ScoreBatchRequest, default: float) -> float:
    """The request's threshold, or the server default when unset."""
    if not message.HasField("threshold"):
        return default
    value = float(message.threshold)
    if not math.isfinite(value) or not 0.0 <= value <= 5.0:
        raise InvalidInput("threshold", f"{value} is outside the label scale 0..5")
    return value


def tier_of(name: str, scorer: Scorer | None) -> str:
    """The request's tier, resolved to the server's default when empty (left as sent while
    the model loads: the batcher refuses the call then anyway).

    Raises InvalidInput for a name that is no tier, TierUnavailable for one not loaded here.
    """
    tier = name.strip().lower()
    if tier and tier not in TIERS:
        choices = ", ".join(TIERS)
        raise InvalidInput("tier", f"{name!r} is not a tier: use {choices} or leave it empty")
    return tier if scorer is None else scorer.resolve_tier(tier)


@dataclass(frozen=True, slots=True, kw_only=True)
class Bounds:
    """The request limits validation enforces (from --max-snippet-bytes and friends)."""

    max_snippet_bytes: int
    max_id_bytes: int
    max_batch_snippets: int
    max_queue_bytes: int


#: Characters of an id quoted back in an error message; the rest is cut.
ID_ECHO_CHARS = 40


def short_id(snippet_id: str) -> str:
    """An id as messages quote it: whole when short, else its start and its length."""
    if len(snippet_id) <= ID_ECHO_CHARS:
        return repr(snippet_id)
    return f"{snippet_id[:ID_ECHO_CHARS]!r}... ({len(snippet_id)} characters)"


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def snippet_of(
    message: pb.Snippet,
    field: str,
    bounds: Bounds,
    *,
    tier: str = "",
    threshold: float | None = None,
) -> Snippet:
    """A validated Snippet; the message names the field, the problem and the limit's flag."""
    code = message.code
    if not code.strip():
        raise InvalidInput(f"{field}.code", "is empty or whitespace only; send the code to score")
    size = _utf8_size(code)
    if size > bounds.max_snippet_bytes:
        limit = bounds.max_snippet_bytes
        raise InvalidInput(f"{field}.code", f"{size} bytes exceeds --max-snippet-bytes={limit}")
    if "\x00" in code:
        raise InvalidInput(
            f"{field}.code", "contains NUL bytes: binary data is not code; filter it out first"
        )
    # Ids are echoed in every result: an unbounded one would be held and sent back whole.
    id_size = _utf8_size(message.id)
    if id_size > bounds.max_id_bytes:
        raise InvalidInput(
            f"{field}.id",
            f"{id_size} bytes exceeds --max-id-bytes={bounds.max_id_bytes}; send a shorter id"
            " (results are matched by position, not by id)",
        )
    language = normalize_language(message.language)
    return Snippet(id=message.id, code=code, language=language, tier=tier, threshold=threshold)


def batch_of(
    request: pb.ScoreBatchRequest,
    bounds: Bounds,
    *,
    tier: str = "",
    threshold: float | None = None,
) -> list[Snippet]:
    """The batch's validated snippets; INVALID_ARGUMENT for a batch no queue state could admit
    (its code exceeds the queue's byte budget): retrying it as it is can never succeed."""
    n = len(request.snippets)
    if n == 0:
        raise InvalidInput("snippets", "is empty; send at least one snippet")
    if n > bounds.max_batch_snippets:
        raise InvalidInput(
            "snippets",
            f"{n} snippets exceed --max-batch-snippets={bounds.max_batch_snippets};"
            " split the batch",
        )
    snippets = [
        snippet_of(s, f"snippets[{i}]", bounds, tier=tier, threshold=threshold)
        for i, s in enumerate(request.snippets)
    ]
    # Characters are at most 4 bytes each: count bytes only when the budget could be passed.
    if 4 * sum(len(s.code) for s in snippets) > bounds.max_queue_bytes:
        size = sum(_utf8_size(s.code) for s in snippets)
        if size > bounds.max_queue_bytes:
            raise InvalidInput(
                "snippets",
                f"{size} bytes of code exceed --max-queue-bytes={bounds.max_queue_bytes}, all"
                " the server ever queues at once; split the batch (ModelInfo.limits has the"
                " limits)",
            )
    return snippets


def result_message(
    result: ScoredSnippet, threshold: float, snippet_id: str, *, units: bool = False
) -> pb.ScoreResult:
    """The wire form of a result, judged at `threshold` and carrying the caller's id; with
    `units`, the units of a split input too (each judged at the same threshold)."""
    r = result.at_threshold(threshold, id=snippet_id)
    return pb.ScoreResult(
        id=r.id,
        score=r.score,
        keep=r.keep,
        label=r.label,
        threshold=r.threshold,
        model_version=r.model_version,
        signals=r.signals,
        n_tokens=r.n_tokens,
        truncated=r.truncated,
        language=r.language,
        tier=r.tier,
        units=[unit_message(u) for u in r.units] if units else [],
    )


def unit_message(u: UnitResult) -> pb.UnitResult:
    return pb.UnitResult(
        kind=u.kind,
        name=u.name,
        start_line=u.start_line,
        end_line=u.end_line,
        language=u.language,
        score=u.score,
        keep=u.keep,
    )
