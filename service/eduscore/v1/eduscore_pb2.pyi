from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Snippet(_message.Message):
    __slots__ = ("id", "code", "language")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: str
    language: str
    def __init__(self, id: _Optional[str] = ..., code: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("snippet", "threshold", "tier", "units")
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    snippet: Snippet
    threshold: float
    tier: str
    units: bool
    def __init__(self, snippet: _Optional[_Union[Snippet, _Mapping]] = ..., threshold: _Optional[float] = ..., tier: _Optional[str] = ..., units: _Optional[bool] = ...) -> None: ...

class ScoreBatchRequest(_message.Message):
    __slots__ = ("snippets", "threshold", "tier", "units")
    SNIPPETS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    snippets: _containers.RepeatedCompositeFieldContainer[Snippet]
    threshold: float
    tier: str
    units: bool
    def __init__(self, snippets: _Optional[_Iterable[_Union[Snippet, _Mapping]]] = ..., threshold: _Optional[float] = ..., tier: _Optional[str] = ..., units: _Optional[bool] = ...) -> None: ...

class ScoreBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScoreResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ScoreResult, _Mapping]]] = ...) -> None: ...

class ScoreResult(_message.Message):
    __slots__ = ("id", "score", "keep", "label", "threshold", "model_version", "signals", "n_tokens", "truncated", "language", "tier", "units")
    class SignalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    N_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    id: str
    score: float
    keep: bool
    label: int
    threshold: float
    model_version: str
    signals: _containers.ScalarMap[str, float]
    n_tokens: int
    truncated: bool
    language: str
    tier: str
    units: _containers.RepeatedCompositeFieldContainer[UnitResult]
    def __init__(self, id: _Optional[str] = ..., score: _Optional[float] = ..., keep: _Optional[bool] = ..., label: _Optional[int] = ..., threshold: _Optional[float] = ..., model_version: _Optional[str] = ..., signals: _Optional[_Mapping[str, float]] = ..., n_tokens: _Optional[int] = ..., truncated: _Optional[bool] = ..., language: _Optional[str] = ..., tier: _Optional[str] = ..., units: _Optional[_Iterable[_Union[UnitResult, _Mapping]]] = ...) -> None: ...

class UnitResult(_message.Message):
    __slots__ = ("kind", "name", "start_line", "end_line", "language", "score", "keep")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_LINE_FIELD_NUMBER: _ClassVar[int]
    END_LINE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    start_line: int
    end_line: int
    language: str
    score: float
    keep: bool
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., start_line: _Optional[int] = ..., end_line: _Optional[int] = ..., language: _Optional[str] = ..., score: _Optional[float] = ..., keep: _Optional[bool] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_batch_snippets", "max_snippet_bytes", "max_batch_size", "max_stream_inflight", "max_seq_length", "max_message_bytes", "max_queue_size", "max_queue_bytes", "max_id_bytes")
    MAX_BATCH_SNIPPETS_FIELD_NUMBER: _ClassVar[int]
    MAX_SNIPPET_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_STREAM_INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_ID_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_batch_snippets: int
    max_snippet_bytes: int
    max_batch_size: int
    max_stream_inflight: int
    max_seq_length: int
    max_message_bytes: int
    max_queue_size: int
    max_queue_bytes: int
    max_id_bytes: int
    def __init__(self, max_batch_snippets: _Optional[int] = ..., max_snippet_bytes: _Optional[int] = ..., max_batch_size: _Optional[int] = ..., max_stream_inflight: _Optional[int] = ..., max_seq_length: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., max_queue_size: _Optional[int] = ..., max_queue_bytes: _Optional[int] = ..., max_id_bytes: _Optional[int] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("model_version", "embedding_model", "embedding_dim", "classifier", "default_threshold", "label_min", "label_max", "training_data_sha256", "training_data_size", "metrics", "signal_names", "limits", "server_version", "default_tier", "tiers")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TiersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: TierInfo
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[TierInfo, _Mapping]] = ...) -> None: ...
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LABEL_MIN_FIELD_NUMBER: _ClassVar[int]
    LABEL_MAX_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_SHA256_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_SIZE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_NAMES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TIER_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    embedding_model: str
    embedding_dim: int
    classifier: str
    default_threshold: float
    label_min: float
    label_max: float
    training_data_sha256: str
    training_data_size: int
    metrics: _containers.ScalarMap[str, float]
    signal_names: _containers.RepeatedScalarFieldContainer[str]
    limits: Limits
    server_version: str
    default_tier: str
    tiers: _containers.MessageMap[str, TierInfo]
    def __init__(self, model_version: _Optional[str] = ..., embedding_model: _Optional[str] = ..., embedding_dim: _Optional[int] = ..., classifier: _Optional[str] = ..., default_threshold: _Optional[float] = ..., label_min: _Optional[float] = ..., label_max: _Optional[float] = ..., training_data_sha256: _Optional[str] = ..., training_data_size: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., signal_names: _Optional[_Iterable[str]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., server_version: _Optional[str] = ..., default_tier: _Optional[str] = ..., tiers: _Optional[_Mapping[str, TierInfo]] = ...) -> None: ...

class TierInfo(_message.Message):
    __slots__ = ("embedding_model", "embedding_dim", "max_seq_length", "metrics", "band_lo", "band_hi", "escalated_share", "bands")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BAND_LO_FIELD_NUMBER: _ClassVar[int]
    BAND_HI_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_SHARE_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    embedding_model: str
    embedding_dim: int
    max_seq_length: int
    metrics: _containers.ScalarMap[str, float]
    band_lo: float
    band_hi: float
    escalated_share: float
    bands: _containers.RepeatedCompositeFieldContainer[CascadeBand]
    def __init__(self, embedding_model: _Optional[str] = ..., embedding_dim: _Optional[int] = ..., max_seq_length: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., band_lo: _Optional[float] = ..., band_hi: _Optional[float] = ..., escalated_share: _Optional[float] = ..., bands: _Optional[_Iterable[_Union[CascadeBand, _Mapping]]] = ...) -> None: ...

class CascadeBand(_message.Message):
    __slots__ = ("threshold", "band_lo", "band_hi", "escalated_share", "disagreement")
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BAND_LO_FIELD_NUMBER: _ClassVar[int]
    BAND_HI_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_SHARE_FIELD_NUMBER: _ClassVar[int]
    DISAGREEMENT_FIELD_NUMBER: _ClassVar[int]
    threshold: float
    band_lo: float
    band_hi: float
    escalated_share: float
    disagreement: float
    def __init__(self, threshold: _Optional[float] = ..., band_lo: _Optional[float] = ..., band_hi: _Optional[float] = ..., escalated_share: _Optional[float] = ..., disagreement: _Optional[float] = ...) -> None: ...
