"""The client's typed values: what is sent (SnippetIn) and what comes back (dataclasses)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from eduscore.v1 import eduscore_pb2 as pb


@dataclass(frozen=True, slots=True)
class SnippetIn:
    """A snippet to send: `code`, optional `id` (echoed back) and `language` hint."""

    code: str
    id: str = ""
    language: str = ""

    def message(self) -> pb.Snippet:
        return pb.Snippet(id=self.id, code=self.code, language=self.language)


@dataclass(frozen=True, slots=True)
class UnitResult:
    """One unit of a whole file (a function, a class, the module's head, ...) and its score.
    Lines are 1-based and inclusive, counted in the code as sent."""

    kind: str
    name: str
    start_line: int
    end_line: int
    language: str
    score: float
    keep: bool

    @classmethod
    def from_message(cls, m: pb.UnitResult) -> UnitResult:
        return cls(
            kind=m.kind,
            name=m.name,
            start_line=m.start_line,
            end_line=m.end_line,
            language=m.language,
            score=m.score,
            keep=m.keep,
        )


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The judgement of one snippet (see ScoreResult in proto/eduscore/v1/eduscore.proto)."""

    id: str
    score: float
    keep: bool
    label: int
    threshold: float
    model_version: str
    signals: Mapping[str, float]
    n_tokens: int
    truncated: bool
    language: str
    #: The tier that decided the score: "full" or "fast" (a cascade answers with one of them).
    tier: str = ""
    #: An input longer than one unit, scored with `units=True`: its units in file order (else
    #: empty). Its own score is the file model's judgement of theirs.
    units: tuple[UnitResult, ...] = ()

    @classmethod
    def from_message(cls, m: pb.ScoreResult) -> ScoreResult:
        return cls(
            id=m.id,
            score=m.score,
            keep=m.keep,
            label=m.label,
            threshold=m.threshold,
            model_version=m.model_version,
            signals=dict(m.signals),
            n_tokens=m.n_tokens,
            truncated=m.truncated,
            language=m.language,
            tier=m.tier,
            units=tuple(UnitResult.from_message(u) for u in m.units),
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """What the server accepts, so callers can size their requests."""

    max_batch_snippets: int
    max_snippet_bytes: int
    max_batch_size: int
    max_stream_inflight: int
    max_seq_length: int
    max_message_bytes: int
    #: The queue's bounds: no batch has more snippets than `max_queue_size`, nor more bytes of
    #: code than `max_queue_bytes` (INVALID_ARGUMENT); 0 from servers that do not say.
    max_queue_size: int = 0
    max_queue_bytes: int = 0
    #: Longest snippet id, in UTF-8 bytes (0: not reported).
    max_id_bytes: int = 0


@dataclass(frozen=True, slots=True)
class CascadeBand:
    """The cascade's band for one keep line: fast scores in [band_lo, band_hi) are escalated."""

    threshold: float
    band_lo: float
    band_hi: float
    escalated_share: float
    disagreement: float


@dataclass(frozen=True, slots=True)
class TierInfo:
    """One tier a server runs: its encoder, grouped-CV metrics and, for cascade, the band at the
    server's default threshold and `bands`, the band of every keep line."""

    embedding_model: str
    embedding_dim: int
    max_seq_length: int
    metrics: Mapping[str, float]
    band_lo: float = 0.0
    band_hi: float = 0.0
    escalated_share: float = 0.0
    bands: tuple[CascadeBand, ...] = ()

    @classmethod
    def from_message(cls, m: pb.TierInfo) -> TierInfo:
        return cls(
            embedding_model=m.embedding_model,
            embedding_dim=m.embedding_dim,
            max_seq_length=m.max_seq_length,
            metrics=dict(m.metrics),
            band_lo=m.band_lo,
            band_hi=m.band_hi,
            escalated_share=m.escalated_share,
            bands=tuple(
                CascadeBand(b.threshold, b.band_lo, b.band_hi, b.escalated_share, b.disagreement)
                for b in m.bands
            ),
        )


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """The model that answers, its training data and CV metrics, and the server's limits."""

    model_version: str
    embedding_model: str
    embedding_dim: int
    classifier: str
    default_threshold: float
    label_min: float
    label_max: float
    training_data_sha256: str
    training_data_size: int
    metrics: Mapping[str, float]
    signal_names: tuple[str, ...]
    limits: Limits
    server_version: str
    #: Tier of calls that name none, and every tier the server runs ("full", "fast", "cascade").
    default_tier: str = ""
    tiers: Mapping[str, TierInfo] = field(default_factory=dict)

    @classmethod
    def from_message(cls, m: pb.ModelInfo) -> ModelInfo:
        lim = m.limits
        return cls(
            model_version=m.model_version,
            embedding_model=m.embedding_model,
            embedding_dim=m.embedding_dim,
            classifier=m.classifier,
            default_threshold=m.default_threshold,
            label_min=m.label_min,
            label_max=m.label_max,
            training_data_sha256=m.training_data_sha256,
            training_data_size=m.training_data_size,
            metrics=dict(m.metrics),
            signal_names=tuple(m.signal_names),
            limits=Limits(
                max_batch_snippets=lim.max_batch_snippets,
                max_snippet_bytes=lim.max_snippet_bytes,
                max_batch_size=lim.max_batch_size,
                max_stream_inflight=lim.max_stream_inflight,
                max_seq_length=lim.max_seq_length,
                max_message_bytes=lim.max_message_bytes,
                max_queue_size=lim.max_queue_size,
                max_queue_bytes=lim.max_queue_bytes,
                max_id_bytes=lim.max_id_bytes,
            ),
            server_version=m.server_version,
            default_tier=m.default_tier,
            tiers={name: TierInfo.from_message(t) for name, t in m.tiers.items()},
        )
