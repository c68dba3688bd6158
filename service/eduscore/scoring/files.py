"""A whole file's judgement: its units' scores and file-level evidence, combined by a small
model fitted on whole files labelled as wholes (training/files.py).

An input of at most SINGLE_UNIT_CHARS characters (the size of the units the unit model was
trained on) is one unit and scores exactly as a snippet always has. A longer input is split
(`units.split`), every unit is scored by the tier's unit model, and `FileModel.judge` turns the
unit scores into the file's score. The model is plain JSON (a ridge and a calibration): judging
needs NumPy only. Its output is shifted so the keep line falls at 3.0, nothing more: a
monotone curve (the unit head's calibration) ties files on its flat steps, and ranking files
is half of what the model is judged on (research/file_model.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eduscore.errors import ModelLoadError
from eduscore.scoring.features.formats import FORMATS, GENERATED_RE, LICENSE_RE, has_marker
from eduscore.scoring.results import FULL, ScoredSnippet, UnitResult, to_label
from eduscore.scoring.units import MAX_UNIT_CHARS, Unit, split

FILE = "file_model.json"
#: Inputs this long or shorter are one unit: the corpus's largest unit.
SINGLE_UNIT_CHARS = MAX_UNIT_CHARS
#: Units one file may split into (--max-file-units): ~1 MB of code in units of ~1 KB. Each unit
#: costs a model call's share; past this a caller should send the file in parts.
MAX_FILE_UNITS = 1024
KEEP_AT = 3.0
#: The file-level inputs of the model, in order (`aggregate`).
AGGREGATES = (
    "max",
    "mean",
    "weighted_mean",
    "top3_mean",
    "std",
    "keep_share",
    "head",
    "rest_share",
    "log_units",
    "log_chars",
    "generated",
)


@dataclass(frozen=True, slots=True)
class FilePlan:
    """How an input is scored: its units (one `whole` unit for a short input) and its format."""

    units: tuple[Unit, ...]
    fmt: str
    n_chars: int
    generated: bool

    @property
    def single(self) -> bool:
        return len(self.units) == 1 and self.units[0].kind == "whole"


def plan(code: str, fmt: str) -> FilePlan:
    """The units of `code` read as `fmt` (the format detected on the whole text)."""
    if len(code) <= SINGLE_UNIT_CHARS:
        unit = Unit("whole", "", 1, code.count("\n") + 1, code)
        return FilePlan((unit,), fmt, len(code), False)
    head = code[:4000]
    generated = has_marker(GENERATED_RE, head) and not has_marker(LICENSE_RE, head[:200])
    return FilePlan(tuple(split(code, fmt)), fmt, len(code), generated)


def aggregate(plan: FilePlan, scores: Sequence[float]) -> list[float]:
    """The AGGREGATES of a split file's unit scores, in order."""
    s = np.asarray(scores, dtype=np.float64)
    w = _weights(plan)
    rest = np.asarray([u.kind in ("block", "piece") for u in plan.units])
    heads = [x for u, x in zip(plan.units, s, strict=True) if u.kind == "head"]
    top = np.sort(s)[::-1][:3]
    return [
        float(s.max()),
        float(s.mean()),
        float(np.average(s, weights=w)),
        float(top.mean()),
        float(s.std()),
        float(w[s >= KEEP_AT].sum() / w.sum()),
        float(heads[0]) if heads else float(s.mean()),
        float(w[rest].sum() / w.sum()),
        math.log1p(len(s)),
        math.log1p(plan.n_chars),
        float(plan.generated),
    ]


def _weights(plan: FilePlan) -> np.ndarray:
    return np.asarray([max(len(u.code), 1) for u in plan.units], dtype=np.float64)


def weighted_mean(plan: FilePlan, scores: Sequence[float]) -> float:
    """The units' scores weighted by their length: the judgement of a model without a file
    model (trained before whole files)."""
    return float(np.average(np.asarray(scores, dtype=np.float64), weights=_weights(plan)))


def mean_signals(plan: FilePlan, signals: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """A split file's signals: each the length-weighted mean over its units, the format one-hot
    naming the file's own format."""
    w = _weights(plan) / _weights(plan).sum()
    rows = zip(w, signals, strict=True)
    out = dict.fromkeys(signals[0], 0.0)
    for wi, row in rows:
        for name, value in row.items():
            out[name] += float(wi * value)
    for fmt in FORMATS:
        out[f"is_{fmt}"] = float(fmt == plan.fmt)
    return out


def unit_result(unit: Unit, scored: ScoredSnippet) -> UnitResult:
    return UnitResult(
        kind=unit.kind,
        name=unit.name,
        start_line=unit.start_line,
        end_line=unit.end_line,
        language=scored.language,
        score=scored.score,
        keep=scored.keep,
    )


def judge_file(
    id: str, plan: FilePlan, scored: Sequence[ScoredSnippet], model: FileModel | None, version: str
) -> ScoredSnippet:
    """A split file's result from its units' results (in `plan.units` order)."""
    scores = [r.score for r in scored]
    score = model.judge(plan, scores) if model else weighted_mean(plan, scores)
    t = scored[0].threshold
    units = tuple(unit_result(u, r) for u, r in zip(plan.units, scored, strict=True))
    return ScoredSnippet(
        id=id,
        score=score,
        label=to_label(score),
        keep=score >= t,
        threshold=t,
        model_version=version,
        signals=mean_signals(plan, [r.signals for r in scored]),
        n_tokens=sum(r.n_tokens for r in scored),
        truncated=any(r.truncated for r in scored),
        language=plan.fmt,
        tier=FULL if any(r.tier == FULL for r in scored) else "fast",
        units=units,
    )


@dataclass(frozen=True, slots=True)
class FileModel:
    """A ridge on the aggregates; its output shifted so that `cut` (the raw output that best
    separated keep-worthy files out of fold) lands on the keep line 3.0."""

    coef: tuple[float, ...]
    intercept: float
    cut: float
    metadata: dict[str, Any]

    def judge(self, plan: FilePlan, scores: Sequence[float]) -> float:
        """The file's 0-5 score from its units' scores."""
        raw = float(np.dot(self.coef, aggregate(plan, scores))) + self.intercept
        return min(max(raw - self.cut + KEEP_AT, 0.0), 5.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "aggregates": list(AGGREGATES),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "cut": self.cut,
            "metadata": self.metadata,
        }

    @classmethod
    def load(cls, directory: str | Path) -> FileModel | None:
        """The file model saved in a model directory, or None (a model trained before files)."""
        path = Path(directory) / FILE
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if list(doc["aggregates"]) != list(AGGREGATES):
                raise ValueError(f"its aggregates {doc['aggregates']} are not {AGGREGATES}")
            return cls(
                coef=tuple(float(v) for v in doc["coef"]),
                intercept=float(doc["intercept"]),
                cut=float(doc["cut"]),
                metadata=dict(doc.get("metadata") or {}),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{path}: not a file model: {exc}") from None

    def save(self, directory: str | Path) -> None:
        path = Path(directory) / FILE
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
