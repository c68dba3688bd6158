"""What the Scorer takes and gives: a snippet (or whole file) in, its judgement out."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from eduscore.scoring.model import LABEL_MAX, LABEL_MIN

FULL = "full"


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
class UnitResult:
    """One unit of a whole file (a function, a class, the module's head, ...) and its score."""

    kind: str
    name: str
    start_line: int
    end_line: int
    language: str
    score: float
    keep: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredSnippet:
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
    #: A file split into units: each unit's judgement (empty for an input that is one unit).
    units: tuple[UnitResult, ...] = ()

    def at_threshold(self, threshold: float, id: str | None = None) -> ScoredSnippet:
        """The same judgement under another threshold (and, optionally, another id)."""
        return dataclasses.replace(
            self,
            threshold=threshold,
            keep=self.score >= threshold,
            id=self.id if id is None else id,
            units=tuple(dataclasses.replace(u, keep=u.score >= threshold) for u in self.units),
        )


def to_label(score: float) -> int:
    """Score rounded half up and clipped to the 0-5 label scale."""
    return int(min(max(np.floor(score + 0.5), LABEL_MIN), LABEL_MAX))
