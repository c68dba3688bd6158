"""Scorer: snippets in, ScoreResults out. Synchronous, batch in / batch out; knows no gRPC.

Three tiers share one call: `full` (the transformer encoder), `fast` (static embeddings) and
`cascade` (fast first, full only where the fast score falls in the band where they disagree).
Signals are measured once per snippet whichever tiers read them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eduscore.errors import InvalidInput, TierUnavailable
from eduscore.scoring import features, files
from eduscore.scoring.bands import Band, CascadeBands
from eduscore.scoring.features.detection import hint_format
from eduscore.scoring.files import MAX_FILE_UNITS, SINGLE_UNIT_CHARS, FileModel, FilePlan
from eduscore.scoring.lexical import STACKED_NAME, LexicalModel
from eduscore.scoring.model import Head
from eduscore.scoring.results import ScoredSnippet, Snippet, to_label
from eduscore.scoring.tiers import (
    CASCADE,
    FAST,
    FAST_DIR,
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
    "ScoredSnippet",
    "Scorer",
    "Snippet",
    "design_matrix",
    "feature_matrix",
    "normalize_language",
    "to_label",
]

log = logging.getLogger(__name__)


def normalize_language(value: object) -> str:
    """A language hint as every entry point normalises it: the format it names, '' (detect) for
    an unknown name."""
    return hint_format(str(value or ""))


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
        file_models: Mapping[str, FileModel | None] | None = None,
        threshold: float = 3.0,
        tier: str = FULL,
        max_file_units: int = MAX_FILE_UNITS,
    ) -> None:
        main = head or (full.head if full else None) or (fast.head if fast else None)
        if main is None:
            raise ValueError("a scorer needs at least one tier")
        self.full, self.fast, self.head, self.lexical = full, fast, main, lexical
        self.file_models = dict(file_models or {})
        self.threshold, self.max_file_units = threshold, max_file_units
        self.bands = CascadeBands.from_metadata(main.metadata)
        #: The cascade's band at the default threshold (None: the model has no cascade).
        self.cascade_band = self.band_for(threshold)
        ok = ((FULL, full), (FAST, fast), (CASCADE, full and fast and self.cascade_band))
        self.tiers = tuple(t for t, has in ok if has)
        if tier not in self.tiers:
            raise TierUnavailable(f"tier {tier!r} is not loaded; this scorer has {self.tiers}")
        self.default_tier = tier

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
        max_file_units: int = MAX_FILE_UNITS,
    ) -> Scorer:
        """Load a model directory's tiers: all it ships, but never the encoder for `fast`."""
        args = {"batch_size": batch_size, "torch_threads": torch_threads, "device": device}
        head, full, fast, lexical = load_tiers(model_dir, tier, encoder=encoder, **args)
        files = {FULL: FileModel.load(model_dir), FAST: FileModel.load(Path(model_dir) / FAST_DIR)}
        return cls(
            full, fast, head=head, lexical=lexical, file_models=files, threshold=threshold,
            tier=tier, max_file_units=max_file_units,
        )  # fmt: skip

    @property
    def model_version(self) -> str:
        return self.head.version

    @property
    def metadata(self) -> dict[str, Any]:
        return self.head.metadata

    @property
    def signal_names(self) -> list[str]:
        """The names in every ScoredSnippet.signals, in the order the heads read them."""
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
        out = [features.extract(s.code, s.language) for s in snippets]
        if self.lexical is not None:
            estimates = self.lexical.stacked([s.code for s in snippets], out)
            for row, value in zip(out, estimates, strict=True):
                row[STACKED_NAME] = value
        return out

    def plan(self, snippet: Snippet) -> FilePlan:
        """How `snippet` is scored: as itself (an input of at most SINGLE_UNIT_CHARS), or split
        into units that share the format detected on the whole text.

        Raises:
            InvalidInput: the file has more units than `max_file_units`.
        """
        if len(snippet.code) <= SINGLE_UNIT_CHARS:
            return files.plan(snippet.code, snippet.language)
        found = files.plan(snippet.code, features.format_of(snippet.code, snippet.language))
        if len(found.units) > self.max_file_units:
            raise InvalidInput(
                "code",
                f"the file splits into {len(found.units)} units, more than"
                f" --max-file-units={self.max_file_units}; send it in parts",
            )
        return found

    def units_of(self, snippet: Snippet, plan: FilePlan) -> list[Snippet]:
        """The snippets a plan scores: the input itself, or its units read as the file's format."""
        if plan.single:
            return [snippet]
        return [dataclasses.replace(snippet, code=u.code, language=plan.fmt) for u in plan.units]

    def judge(
        self, snippet: Snippet, plan: FilePlan, scored: Sequence[ScoredSnippet]
    ) -> ScoredSnippet:
        """The input's result from its units' results (`units_of`, scored): the one unit's own,
        or the file model's judgement of them."""
        if plan.single:
            return scored[0]
        model = self.file_models.get(FAST if self.resolve_tier(snippet.tier) == FAST else FULL)
        return files.judge_file(snippet.id, plan, scored, model, self.head.version)

    def score_batch(
        self, snippets: Sequence[Snippet], threshold: float | None = None
    ) -> list[ScoredSnippet]:
        """Score inputs (snippets or whole files) in as few model calls as their tiers allow;
        results in input order. A file's units are scored together with the other inputs."""
        plans = [self.plan(s) for s in snippets]
        parts = [self.units_of(s, p) for s, p in zip(snippets, plans, strict=True)]
        scored = self.score_units([u for part in parts for u in part], threshold)
        out, at = [], 0
        for s, p, part in zip(snippets, plans, parts, strict=True):
            out.append(self.judge(s, p, scored[at : at + len(part)]))
            at += len(part)
        return out

    def score_units(
        self, snippets: Sequence[Snippet], threshold: float | None = None
    ) -> list[ScoredSnippet]:
        """Score snippets as units (no splitting), in as few model calls as their tiers allow."""
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
    ) -> list[ScoredSnippet]:
        version = self.head.version
        out = []
        for s, sig, d, t in zip(snippets, signals, decided, lines, strict=True):
            assert d is not None
            score, n_tokens, truncated, tier = d
            out.append(
                ScoredSnippet(
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
