"""Scorer: snippets in, ScoreResults out. Synchronous, batch in / batch out; knows no gRPC."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.scoring import features
from eduscore.scoring.embedding import Embedder
from eduscore.scoring.model import (
    LABEL_MAX,
    LABEL_MIN,
    Head,
    bundled_encoder,
    check_compatible,
    load,
)

log = logging.getLogger(__name__)

#: Language hints the features understand; anything else is treated as "detect".
KNOWN_LANGUAGES = frozenset(
    {
        "python",
        "yaml",
        "json",
        "toml",
        "ini",
        "shell",
        "javascript",
        "typescript",
        "dockerfile",
        "makefile",
        "text",
        "markdown",
        "html",
        "css",
        "sql",
        "c",
        "cpp",
        "java",
        "go",
        "rust",
    }
)


def normalize_language(value: object) -> str:
    """A language hint as every entry point normalises it: lower case, unknown -> '' (detect)."""
    lang = str(value or "").strip().lower()
    return lang if lang in KNOWN_LANGUAGES else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Snippet:
    """A unit of code to score. `language` is an optional hint ('' = detect)."""

    id: str = ""
    code: str
    language: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreResult:
    """The judgement of one snippet; `keep` is `score >= threshold`."""

    id: str
    score: float
    label: int
    keep: bool
    threshold: float
    model_version: str
    signals: Mapping[str, float] = field(default_factory=dict)
    n_tokens: int = 0
    truncated: bool = False
    language: str = ""

    def at_threshold(self, threshold: float, id: str | None = None) -> ScoreResult:
        """The same judgement under another threshold (and, optionally, another id)."""
        return dataclasses.replace(
            self,
            threshold=threshold,
            keep=self.score >= threshold,
            id=self.id if id is None else id,
        )


def to_label(score: float) -> int:
    """Score rounded half up and clipped to the 0-5 label scale."""
    return int(min(max(np.floor(score + 0.5), LABEL_MIN), LABEL_MAX))


def feature_matrix(rows: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float32]:
    """Signals as a matrix with columns in FEATURE_NAMES order."""
    return np.asarray(
        [[row[name] for name in features.FEATURE_NAMES] for row in rows], dtype=np.float32
    ).reshape(len(rows), len(features.FEATURE_NAMES))


def design_matrix(
    vectors: npt.NDArray[np.float32], signals: Sequence[Mapping[str, float]]
) -> npt.NDArray[np.float32]:
    """What the head reads: [signals | embedding]. Training uses the same function.

    Signals come first so the head can address them by position whatever the encoder's width.
    """
    return np.hstack([feature_matrix(signals), vectors]).astype(np.float32, copy=False)


class Scorer:
    """Embeds snippets, measures their signals and applies the trained head.

    Args:
        embedder: the sentence-transformers encoder the head was trained on.
        head: the trained classifier head and its metadata.
        threshold: default keep threshold on the 0-5 scale.
    """

    def __init__(self, embedder: Embedder, head: Head, *, threshold: float = 3.0) -> None:
        check_compatible(
            head,
            encoder_name=embedder.name,
            encoder_dim=embedder.dim,
            encoder_sha256=embedder.sha256,
            feature_names=features.FEATURE_NAMES,
        )
        self.embedder = embedder
        self.head = head
        self.threshold = threshold
        # Whether the head was trained with the caller's language hint in its features; if
        # not, the format is detected from the text alone, exactly as in training.
        self.uses_language_hint = bool(head.metadata.get("uses_language_hint", False))

    @classmethod
    def load(
        cls,
        model_dir: str,
        *,
        encoder: str = "",
        threshold: float = 3.0,
        batch_size: int = 64,
        torch_threads: int = 0,
    ) -> Scorer:
        """Load a model directory and its encoder: `encoder` if given, else the fine-tuned one
        the directory ships, else the embedded default."""
        head = load(model_dir)
        bundled = "" if encoder else bundled_encoder(model_dir, head.metadata)
        embedder = Embedder(
            encoder or bundled,
            batch_size=batch_size,
            torch_threads=torch_threads,
            name=head.metadata["encoder"]["name"] if bundled else "",
        )
        return cls(embedder, head, threshold=threshold)

    @property
    def model_version(self) -> str:
        return self.head.version

    @property
    def metadata(self) -> dict[str, Any]:
        return self.head.metadata

    @property
    def signal_names(self) -> list[str]:
        """The names in every ScoreResult.signals, in the order the head reads them."""
        return self.head.feature_names

    def score_batch(
        self, snippets: Sequence[Snippet], threshold: float | None = None
    ) -> list[ScoreResult]:
        """Score snippets in one model call; results are in input order."""
        if not snippets:
            return []
        t = self.threshold if threshold is None else threshold
        hint = self.uses_language_hint
        signals = [features.extract(s.code, s.language if hint else "") for s in snippets]
        encoded = self.embedder.encode([s.code for s in snippets])
        scores = self.head.predict(design_matrix(encoded.vectors, signals))
        version = self.head.version
        return [
            ScoreResult(
                id=s.id,
                score=float(score),
                label=to_label(float(score)),
                keep=bool(score >= t),
                threshold=t,
                model_version=version,
                signals=sig,
                n_tokens=n_tok,
                truncated=trunc,
                language=features.detected_language(sig),
            )
            for s, score, sig, n_tok, trunc in zip(
                snippets, scores, signals, encoded.n_tokens, encoded.truncated, strict=True
            )
        ]

    def warmup(self) -> None:
        """One real call so the first request does not pay for lazy initialisation."""
        self.score_batch([Snippet(code="def warmup() -> None:\n    pass\n")])
