"""Settings: one frozen dataclass; each field is a flag `--foo-bar` and env `EDUSCORE_FOO_BAR`,
generated from the same field list so they cannot drift (flag > environment > default)."""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "EDUSCORE_"
#: Fields whose values never appear in logs.
SECRET_FIELDS = frozenset({"auth_token"})


#: The keep line of the label scale (the rubric's "keep" is label >= 3).
DEFAULT_THRESHOLD = 3.0
#: Where a wheel installs the shipped model (pyproject's data-files), under sys.prefix.
MODEL_DATA_DIR = Path("share") / "eduscore" / "models" / "current"


def default_model_dir() -> str:
    """The shipped model: `models/current` of a source checkout (editable installs, the image),
    else the copy a wheel installed under `<sys.prefix>/share/eduscore/models/current`."""
    import sys

    checkout = Path(__file__).resolve().parents[2] / "models" / "current"
    installed = Path(sys.prefix) / MODEL_DATA_DIR
    for candidate in (checkout, installed):
        if (candidate / "metadata.json").is_file():
            return str(candidate)
    return str(installed)  # missing: loading names this path and asks for --model-dir


#: Limits that must not exceed others: (smaller, larger, what would go wrong otherwise).
_ORDERED_LIMITS = (
    ("max_batch_snippets", "max_queue_size", "a full ScoreBatch could never be queued"),
    ("max_stream_inflight", "max_queue_size", "one stream could fill the queue by itself"),
    ("max_snippet_bytes", "max_queue_bytes", "a snippet of the allowed size could never be queued"),
    ("max_snippet_bytes", "max_message_bytes", "a snippet of the allowed size could never arrive"),
)


_AT_LEAST_ONE = (
    *("max_batch_size", "max_batch_tokens", "max_queue_size", "max_queue_bytes"),
    *("max_batch_snippets", "max_snippet_bytes", "max_id_bytes", "max_message_bytes"),
    *("max_file_units", "max_stream_inflight", "max_concurrent_streams"),
)


def _f(default: Any, doc: str, **kw: Any) -> Any:
    return field(default=default, metadata={"doc": doc, **kw})


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the server and CLI can be told. Validated on construction."""

    host: str = _f("0.0.0.0", "Address the gRPC server binds to.")
    port: int = _f(50051, "gRPC port (0 picks a free one).")
    metrics_host: str = _f("0.0.0.0", "Address of the Prometheus /metrics HTTP endpoint.")
    metrics_port: int = _f(9100, "Port of /metrics (0 picks a free one, -1 disables it).")
    http_port: int = _f(
        8000,
        "Port of the HTTP/JSON API on --host (0 picks a free one, -1 disables it); same model,"
        " limits, token and TLS as gRPC.",
    )
    model_dir: str = _f(
        "", "Directory of the trained classifier (metadata.json + head). Default: the shipped one."
    )
    encoder: str = _f(
        "",
        "sentence-transformers model directory. Default: the one the classifier was trained with"
        " (the model directory's encoder/ if it has one, else the embedded all-MiniLM-L6-v2)."
        " Must match the classifier's encoder weights and dimension.",
    )
    tier: str = _f(
        "full",
        "Default tier of requests that name none: full (the encoder), fast (static embeddings,"
        " no encoder loaded; ~20x the throughput) or cascade (fast, then the encoder only"
        " where the fast score is close to the line). A full or cascade server also serves"
        " requests for the other tiers.",
        choices=("full", "fast", "cascade"),
    )
    device: str = _f(
        "auto",
        "Where the encoder runs: auto (CUDA if PyTorch sees a GPU, else CPU), cpu or cuda"
        " (fp16 weights).",
        choices=("auto", "cpu", "cuda"),
    )
    threshold: float = _f(
        DEFAULT_THRESHOLD, "Default keep threshold on the 0-5 scale (requests may override)."
    )
    max_batch_size: int = _f(
        64,
        "Most snippets per model call. The encoder sorts a call by length and cuts it into"
        " the forward passes its cost model finds cheapest (at most 2,048 padded tokens each).",
    )
    max_batch_tokens: int = _f(
        16384, "Most encoder tokens per model call; bounds the latency of one batch."
    )
    max_wait_ms: float = _f(
        50.0,
        "Longest a micro-batch waits to fill while callers keep coming back; never more than a"
        " twentieth of the last model call, and never for a lone request on an idle server.",
    )
    max_queue_size: int = _f(
        2048,
        "Snippets waiting for the model before unary calls get RESOURCE_EXHAUSTED. A low limit"
        " refuses clients instead of having them wait for too long.",
    )
    # 64 MiB: a queued snippet lives in its request message and as a str (1 byte a character
    # for ASCII, 4 if one character is beyond the BMP), so a full budget costs ~130 MiB, ~320 at
    # worst, on top of the ~1 GiB measured under load: inside the 2 GiB pod limit (deploy/k8s).
    # --max-queue-size alone would allow 2,048 x 1 MB snippets.
    max_queue_bytes: int = _f(
        64 * 1024 * 1024,
        "UTF-8 bytes of queued code before RESOURCE_EXHAUSTED; bounds the queue's memory when"
        " snippets are large. At least --max-snippet-bytes, so any valid snippet fits.",
    )
    max_batch_snippets: int = _f(1024, "Most snippets in one ScoreBatch request.")
    max_snippet_bytes: int = _f(
        1_000_000, "Largest snippet in UTF-8 bytes; larger ones get INVALID_ARGUMENT."
    )
    max_id_bytes: int = _f(
        1024,
        "Longest snippet id in UTF-8 bytes; longer ones get INVALID_ARGUMENT. Ids are echoed in"
        " every result, so this bounds what a caller can make the server hold and send back.",
    )
    max_message_bytes: int = _f(
        16 * 1024 * 1024, "Largest gRPC message received or sent, in bytes."
    )
    max_file_units: int = _f(
        1024,
        "Most units one input may split into (an input over 3,000 characters is scored as its"
        " functions, classes, ... and judged from them); more is INVALID_ARGUMENT. Each unit"
        " costs a snippet's model time and queue place. At most --max-queue-size.",
    )
    max_stream_inflight: int = _f(
        128,
        "Snippets one ScoreStream may have in flight; beyond it the server stops reading. Two"
        " model calls' worth, so one is queued while the other runs.",
    )
    max_concurrent_streams: int = _f(
        100, "HTTP/2 concurrent streams (RPCs) allowed per client connection."
    )
    cache_size: int = _f(
        20_000,
        "Entries of the content-hash result cache (0 disables it). ~3.5 KiB each (a result with"
        " its 76 signals), so the default costs ~70 MiB.",
    )
    torch_threads: int = _f(0, "PyTorch intra-op threads (0: number of cores).")
    workers: int = _f(
        -1,
        "Worker processes that score fast-tier requests, each with its own copy of the fast"
        " tier (~110 MiB) on a core of its own; 0 scores them in the server's model thread,"
        " where the GIL gives them one core. -1: every core for --tier fast, 0 for full and"
        " cascade (torch already uses every core, and their fast-tier requests are a side line).",
    )
    stall_timeout_s: float = _f(
        120.0,
        "A model call running longer than this is taken as hung: health turns NOT_SERVING"
        " (readiness and the liveness service fail, so an orchestrator restarts the server)"
        " until it ends, and a pool worker's hung call is killed, answered UNAVAILABLE and the"
        " worker replaced. The slowest legitimate call measured (64 snippets of 1 MB) takes ~10 s.",
    )
    grace_period_s: float = _f(
        20.0, "On SIGTERM, how long in-flight RPCs may take before they are cancelled."
    )
    auth_token: str = _f("", "If set, every RPC but health must send `authorization: Bearer <t>`.")
    tls_cert: str = _f("", "PEM certificate chain; with --tls-key the server speaks TLS only.")
    tls_key: str = _f("", "PEM private key for --tls-cert.")
    tls_client_ca: str = _f("", "PEM CA bundle; if set, clients must present a cert it signed.")
    log_format: str = _f("text", "Log format.", choices=("text", "json"))
    log_level: str = _f(
        "INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    )

    def __post_init__(self) -> None:
        for name in ("port", "metrics_port", "http_port"):
            value = getattr(self, name)
            low = -1 if name in ("metrics_port", "http_port") else 0
            if not low <= value <= 65535:
                raise ValueError(f"{name}={value} is not a port: use {low}..65535")
        if not (math.isfinite(self.threshold) and 0.0 <= self.threshold <= 5.0):
            raise ValueError(f"threshold={self.threshold} is outside the label scale 0..5")
        for name in _AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        if self.workers < -1:
            raise ValueError(f"workers={self.workers}: use -1 (auto), 0 (none) or a count")
        if not self.stall_timeout_s > 0:
            raise ValueError(f"stall_timeout_s={self.stall_timeout_s} must be positive")
        for name in ("max_wait_ms", "grace_period_s", "cache_size", "torch_threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must not be negative")
        self._check_limits_agree()
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("tls_client_ca needs tls_cert and tls_key")
        for fld in dataclasses.fields(self):
            choices = fld.metadata.get("choices")
            if choices and getattr(self, fld.name) not in choices:
                raise ValueError(f"{fld.name}={getattr(self, fld.name)!r}: choose one of {choices}")

    def _check_limits_agree(self) -> None:
        """Refuse limits under which an accepted request could never be queued."""
        for small, large, why in _ORDERED_LIMITS:
            value, limit = getattr(self, small), getattr(self, large)
            if value > limit:
                raise ValueError(
                    f"{_flag(small)}={value} exceeds {_flag(large)}={limit}: {why};"
                    f" lower {_flag(small)} or raise {_flag(large)}"
                )

    @property
    def resolved_model_dir(self) -> str:
        return self.model_dir or default_model_dir()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from `EDUSCORE_*` variables; unknown ones are ignored."""
        return cls(**_values_from_env(environ))

    @classmethod
    def from_args(cls, argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from flags over env vars over defaults. Bad values exit with code 2."""
        parser = argparse.ArgumentParser(prog="eduscore serve")
        add_arguments(parser)
        return from_namespace(parser, parser.parse_args(argv), environ or {})

    def redacted(self) -> dict[str, Any]:
        """Field values for logging, secrets replaced."""
        out = dataclasses.asdict(self)
        for name in SECRET_FIELDS:
            if out[name]:
                out[name] = "***"
        return out


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _convert(fld: dataclasses.Field[Any], raw: str) -> Any:
    kind = type(fld.default)
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


def _values_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for fld in dataclasses.fields(Settings):
        raw = environ.get(env_name(fld.name))
        if raw is None or raw == "":
            continue
        try:
            values[fld.name] = _convert(fld, raw)
        except ValueError as exc:
            raise ValueError(f"{env_name(fld.name)}={raw!r}: {exc}") from None
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per Settings field; help shows the default and the env var."""
    for fld in dataclasses.fields(Settings):
        kind = type(fld.default)
        parser.add_argument(
            _flag(fld.name),
            dest=fld.name,
            type=kind,
            default=None,
            choices=fld.metadata.get("choices"),
            help=f"{fld.metadata['doc']} [default: {fld.default!r}; env: {env_name(fld.name)}]",
        )


def from_namespace(
    parser: argparse.ArgumentParser, ns: argparse.Namespace, environ: Mapping[str, str]
) -> Settings:
    """Merge parsed flags over the environment; a bad value is a usage error (exit 2)."""
    try:
        values = _values_from_env(environ)
        for fld in dataclasses.fields(Settings):
            flag = getattr(ns, fld.name, None)
            if flag is not None:
                values[fld.name] = flag
        return Settings(**values)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits
