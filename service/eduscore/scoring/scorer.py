"""Scorer: snippets in, ScoreResults out. Synchronous, batch in / batch out; knows no gRPC.

Three tiers share one call: `full` (the transformer encoder), `fast` (static embeddings) and
`cascade` (fast first, full only where the fast score falls in the band where they disagree).
Signals are measured once per snippet whichever tiers read them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eduscore.errors import TierUnavailable
from eduscore.scoring import features
from eduscore.scoring.bands import Band, CascadeBands
from eduscore.scoring.lexical import STACKED_NAME, LexicalModel
from eduscore.scoring.model import LABEL_MAX, LABEL_MIN, Head
from eduscore.scoring.tiers import (
    CASCADE,
    FAST,
    FULL,
    TIERS,
    Tier,
    design_matrix,
    feature_matrix,
    load_tiers,
)

__all__ = [
    "CASCADE",
    "FAST",
    "FULL",
    "TIERS",
    "ScoreResult",
    "Scorer",
    "Snippet",
    "design_matrix",
    "feature_matrix",
    "normalize_language",
    "to_label",
]

log = logging.getLogger(__name__)

#: Language hints the features understand; anything else is treated as "detect".
# fmt: off
KNOWN_LANGUAGES = frozenset({
    "python", "yaml", "json", "toml", "ini", "shell", "javascript", "typescript", "dockerfile",
    "makefile", "text", "markdown", "html", "css", "sql", "c", "cpp", "java", "go", "rust",
})
# fmt: on


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
    #: full, fast or cascade; '' = the scorer's default tier.
    tier: str = ""
    #: The keep line it is judged at (the request's threshold); None: the call's or the
    #: scorer's. A cascade escalates with this line's band.
    threshold: float | None = None


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
    #: The tier whose head decided the score: "full" or "fast" (a cascade's answer is one of them).
    tier: str = FULL

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


class Scorer:
    """Measures snippets' signals once and applies each snippet's tier.

    Args:
        full: the transformer tier, or None on a fast-only scorer.
        fast: the static-embedding tier, or None when the model ships none.
        head: the model directory's own head, whose metadata describes the model.
        threshold: default keep threshold on the 0-5 scale.
        tier: the tier of snippets that name none.
    """

    def __init__(
        self,
        full: Tier | None,
        fast: Tier | None = None,
        *,
        head: Head | None = None,
        lexical: LexicalModel | None = None,
        threshold: float = 3.0,
        tier: str = FULL,
    ) -> None:
        main = head or (full.head if full else None) or (fast.head if fast else None)
        if main is None:
            raise ValueError("a scorer needs at least one tier")
        self.full, self.fast, self.head, self.lexical = full, fast, main, lexical
        self.threshold = threshold
        self.bands = CascadeBands.from_metadata(main.metadata)
        #: The cascade's band at the default threshold (None: the model has no cascade).
        self.band = self.band_for(threshold)
        self.tiers = tuple(
            t
            for t, ok in ((FULL, full), (FAST, fast), (CASCADE, full and fast and self.band))
            if ok
        )
        if tier not in self.tiers:
            raise TierUnavailable(f"tier {tier!r} is not loaded; this scorer has {self.tiers}")
        self.default_tier = tier
        # Whether the head was trained with the caller's language hint in its features; if
        # not, the format is detected from the text alone, exactly as in training.
        self.uses_language_hint = bool(main.metadata.get("uses_language_hint", False))

    @classmethod
    def load(
        cls,
        model_dir: str,
        *,
        tier: str = FULL,
        encoder: str = "",
        threshold: float = 3.0,
        batch_size: int = 64,
        torch_threads: int = 0,
        device: str = "auto",
    ) -> Scorer:
        """Load a model directory's tiers: all it ships, but never the encoder for `fast`."""
        args = {"batch_size": batch_size, "torch_threads": torch_threads, "device": device}
        head, full, fast, lexical = load_tiers(model_dir, tier, encoder=encoder, **args)
        return cls(full, fast, head=head, lexical=lexical, threshold=threshold, tier=tier)

    @property
    def model_version(self) -> str:
        return self.head.version

    @property
    def metadata(self) -> dict[str, Any]:
        return self.head.metadata

    @property
    def signal_names(self) -> list[str]:
        """The names in every ScoreResult.signals, in the order the heads read them."""
        return self.head.feature_names

    @property
    def embedder(self) -> Any:
        """The encoder of the default tier (the full one for a cascade)."""
        return self.tier_model(FULL if self.default_tier != FAST else FAST).embedder

    def band_for(self, threshold: float) -> Band | None:
        """The fast scores a cascade escalates at keep line `threshold` (scoring/bands.py)."""
        return None if self.bands is None else self.bands.band_for(threshold)

    def tier_model(self, name: str) -> Tier:
        tier = self.full if name == FULL else self.fast
        if tier is None:
            raise TierUnavailable(f"tier {name!r} is not loaded; this scorer has {self.tiers}")
        return tier

    def resolve_tier(self, tier: str) -> str:
        """A snippet's tier: its own, else the default; TierUnavailable if not loaded."""
        name = tier or self.default_tier
        if name not in TIERS:
            raise TierUnavailable(f"{name!r} is not a tier: use {', '.join(TIERS)}")
        if name not in self.tiers:
            why = (
                "its model ships no fast tier (retrain with `eduscore train`)"
                if self.fast is None and name != FULL
                else "it loaded no encoder (a server started with --tier full or cascade has one)"
            )
            raise TierUnavailable(
                f"tier {name!r} is not served here: {why}; this server runs {', '.join(self.tiers)}"
            )
        return name

    def signals(self, snippets: Sequence[Snippet]) -> list[dict[str, float]]:
        """Every snippet's named signals, the model's stacked estimate included: what the heads
        read, measured once whatever tiers read them."""
        hint = self.uses_language_hint
        out = [features.extract(s.code, s.language if hint else "") for s in snippets]
        if self.lexical is not None:
            estimates = self.lexical.stacked([s.code for s in snippets], out)
            for row, value in zip(out, estimates, strict=True):
                row[STACKED_NAME] = value
        return out

    def score_batch(
        self, snippets: Sequence[Snippet], threshold: float | None = None
    ) -> list[ScoreResult]:
        """Score snippets in as few model calls as their tiers allow; results in input order."""
        if not snippets:
            return []
        wanted = [self.resolve_tier(s.tier) for s in snippets]
        call = self.threshold if threshold is None else threshold
        lines = [call if s.threshold is None else s.threshold for s in snippets]
        signals = self.signals(snippets)
        decided: list[tuple[float, int, bool, str] | None] = [None] * len(snippets)
        first = [i for i, t in enumerate(wanted) if t != FULL]
        if first:
            self._apply(FAST, first, snippets, signals, decided)
            for i in first:
                if wanted[i] == CASCADE:
                    lo, hi = self.band_for(lines[i]) or (0.0, 0.0)
                    if lo <= decided[i][0] < hi:  # type: ignore[index]
                        decided[i] = None  # close to the line: the encoder decides
        rest = [i for i, d in enumerate(decided) if d is None]
        if rest:
            self._apply(FULL, rest, snippets, signals, decided)
        return self._results(snippets, signals, decided, lines)

    def _apply(
        self,
        name: str,
        index: list[int],
        snippets: Sequence[Snippet],
        signals: list[dict[str, float]],
        decided: list[tuple[float, int, bool, str] | None],
    ) -> None:
        """Score the snippets at `index` with one tier, in place."""
        scores, encoded = self.tier_model(name).predict(
            [snippets[i].code for i in index], [signals[i] for i in index]
        )
        for j, i in enumerate(index):
            decided[i] = (float(scores[j]), encoded.n_tokens[j], encoded.truncated[j], name)

    def _results(
        self,
        snippets: Sequence[Snippet],
        signals: list[dict[str, float]],
        decided: list[tuple[float, int, bool, str] | None],
        lines: list[float],
    ) -> list[ScoreResult]:
        version = self.head.version
        out = []
        for s, sig, d, t in zip(snippets, signals, decided, lines, strict=True):
            assert d is not None
            score, n_tokens, truncated, tier = d
            out.append(
                ScoreResult(
                    id=s.id,
                    score=score,
                    label=to_label(score),
                    keep=score >= t,
                    threshold=t,
                    model_version=version,
                    signals=sig,
                    n_tokens=n_tokens,
                    truncated=truncated,
                    language=features.detected_language(sig),
                    tier=tier,
                )
            )
        return out

    def warmup(self) -> None:
        """One real call per tier so the first request does not pay for lazy initialisation."""
        code = "def warmup() -> None:\n    pass\n"
        for tier in self.tiers:
            if tier != CASCADE:
                self.score_batch([Snippet(code=code, tier=tier)])
