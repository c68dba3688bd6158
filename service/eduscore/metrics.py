"""Every Prometheus metric of eduscore, on one registry. A leaf: imports prometheus_client only.

Names follow the conventions: the go-grpc-prometheus `grpc_server_*` set that the ecosystem's
dashboards expect, and `eduscore_*` series in base units (`_seconds`, `_total`).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# Geometric buckets: from 1 ms to ~65 s.
_LATENCY_BUCKETS = tuple(0.001 * 2**i for i in range(17))
# Powers of two for batch sizes.
_BATCH_BUCKETS = tuple(float(2**i) for i in range(11))
_SCORE_BUCKETS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
_TOKEN_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)

_GRPC = ("grpc_type", "grpc_service", "grpc_method")

grpc_started = Counter(
    "grpc_server_started", "RPCs started on the server.", _GRPC, registry=REGISTRY
)
grpc_handled = Counter(
    "grpc_server_handled",
    "RPCs completed on the server, regardless of success or failure.",
    (*_GRPC, "grpc_code"),
    registry=REGISTRY,
)
grpc_handling_seconds = Histogram(
    "grpc_server_handling_seconds",
    "Response latency of RPCs handled by the server.",
    _GRPC,
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
grpc_msg_received = Counter(
    "grpc_server_msg_received", "Messages received by the server.", _GRPC, registry=REGISTRY
)
grpc_msg_sent = Counter(
    "grpc_server_msg_sent", "Messages sent by the server.", _GRPC, registry=REGISTRY
)

snippets_scored = Counter(
    "eduscore_snippets_scored",
    "Snippets scored by the model (cache hits excluded).",
    registry=REGISTRY,
)
tier_scored = Counter(
    "eduscore_tier_scored",
    "Snippets scored, by the tier asked for and the tier whose model decided: a cascade's"
    " decided=full share is what it escalated to the encoder.",
    ("tier", "decided"),
    registry=REGISTRY,
)
decisions = Counter(
    "eduscore_decisions",
    "Keep/drop decisions returned to clients.",
    ("decision",),
    registry=REGISTRY,
)
score_distribution = Histogram(
    "eduscore_score",
    "Scores returned (0-5). A shifted distribution is how input drift shows.",
    buckets=_SCORE_BUCKETS,
    registry=REGISTRY,
)
rejected = Counter(
    "eduscore_rejected",
    "Snippets refused before the model, by reason.",
    ("reason",),
    registry=REGISTRY,
)
batch_size = Histogram(
    "eduscore_batch_size", "Snippets per model call.", buckets=_BATCH_BUCKETS, registry=REGISTRY
)
file_units = Histogram(
    "eduscore_file_units",
    "Units per input split into units (inputs longer than one unit, --max-file-units at most);"
    " each unit is queued and scored as a snippet.",
    buckets=_BATCH_BUCKETS,
    registry=REGISTRY,
)
queue_depth = Gauge("eduscore_queue_depth", "Snippets waiting for the model.", registry=REGISTRY)
queue_bytes = Gauge(
    "eduscore_queue_bytes",
    "UTF-8 bytes of code waiting for the model (bounded by --max-queue-bytes).",
    registry=REGISTRY,
)
queue_capacity = Gauge(
    "eduscore_queue_capacity", "Size of the snippet queue (--max-queue-size).", registry=REGISTRY
)
queue_wait_seconds = Histogram(
    "eduscore_queue_wait_seconds",
    "Time a snippet waits in the queue before its batch starts.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
inference_seconds = Histogram(
    "eduscore_inference_seconds",
    "Time of one model call (embedding + features + head) per batch.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
tokens_per_snippet = Histogram(
    "eduscore_snippet_tokens",
    "Encoder tokens per scored snippet, before truncation.",
    buckets=_TOKEN_BUCKETS,
    registry=REGISTRY,
)
truncated = Counter(
    "eduscore_truncated_snippets",
    "Snippets longer than the encoder reads (only a prefix is embedded).",
    registry=REGISTRY,
)
cache_hits = Counter("eduscore_cache_hits", "Result-cache hits.", registry=REGISTRY)
cache_misses = Counter("eduscore_cache_misses", "Result-cache misses.", registry=REGISTRY)
batch_failures = Counter(
    "eduscore_batch_failures", "Model calls that raised; their items failed.", registry=REGISTRY
)
signal_errors = Counter(
    "eduscore_signal_errors",
    "Snippets whose signal extraction failed (scored with all-zero signals), by language hint.",
    ("language",),
    registry=REGISTRY,
)
model_info = Gauge(
    "eduscore_model_info",
    "The loaded model (value 1), labelled with its version and encoder.",
    ("model_version", "encoder", "classifier"),
    registry=REGISTRY,
)
ready = Gauge("eduscore_ready", "1 when the server is SERVING, else 0.", registry=REGISTRY)
pool_workers = Gauge(
    "eduscore_pool_workers",
    "Worker processes up and scoring the fast tier (--workers).",
    registry=REGISTRY,
)
worker_restarts = Counter(
    "eduscore_worker_restarts",
    "Pool worker processes replaced after dying or hanging mid-batch; the snippets each held"
    " were answered UNAVAILABLE.",
    registry=REGISTRY,
)
oldest_call_seconds = Gauge(
    "eduscore_oldest_model_call_seconds",
    "How long the oldest model call in flight has been running (0 when none is).",
    registry=REGISTRY,
)
stalled_calls = Counter(
    "eduscore_stalled_model_calls",
    "Model calls that ran past --stall-timeout-s: health is NOT_SERVING while one runs, and a"
    " pool worker's is killed and replaced.",
    registry=REGISTRY,
)

#: Reasons used with `rejected`; pre-created so dashboards show 0 rather than gaps.
REJECT_REASONS = ("invalid", "overloaded", "deadline", "cancelled", "shutting_down", "error")
for _reason in REJECT_REASONS:
    rejected.labels(_reason)
for _decision in ("keep", "drop"):
    decisions.labels(_decision)

# The HTTP/JSON API: the names of the Prometheus HTTP conventions; `path` is the route template
# (never the raw URL, whose cardinality a caller controls), `code` the HTTP status.
http_requests = Counter(
    "http_requests",
    "HTTP requests completed, by method, route and status.",
    ("method", "path", "code"),
    registry=REGISTRY,
)
http_request_seconds = Histogram(
    "http_request_duration_seconds",
    "Latency of HTTP requests, by method and route.",
    ("method", "path"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
