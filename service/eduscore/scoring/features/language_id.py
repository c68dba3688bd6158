"""Which programming language a snippet is in, from its tokens: a linear model over token counts.

Rules find the strict formats (JSON, TOML, YAML, Dockerfile, ...) elsewhere (`formats.py`); for
code, keywords and punctuation tell the languages apart better than any hand-made rule, so the
choice among them is learned (`eduscore.training.language_id` fits it) and shipped as plain JSON
in the package: no pickle, and the same detector in every install.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

#: Where the shipped detector lives (package data, found from the installed package).
DETECTOR_PATH = Path(__file__).with_name("language_id.json")
#: Only the head of a snippet is read: a language shows itself in its first lines.
MAX_CHARS = 4000
_TOKEN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[^\w\s]{1,2}")
_LINE_START_RE = re.compile(r"^[ \t]*([A-Za-z_#@][\w#]*|[^\w\s]{1,2})", re.MULTILINE)


def tokens(code: str) -> Counter[str]:
    """Word and punctuation tokens, plus each line's first token marked with '^' (so
    `^package`, `^#include`, `^fn`, `^def` count apart from the same word mid-line)."""
    head = code[:MAX_CHARS]
    counts = Counter(_TOKEN_RE.findall(head))
    counts.update("^" + t for t in _LINE_START_RE.findall(head))
    return counts


@dataclass(frozen=True, slots=True)
class LanguageDetector:
    """Multinomial logistic regression over log-scaled, L2-normalised token counts."""

    classes: tuple[str, ...]
    vocab: dict[str, int]
    coef: tuple[tuple[float, ...], ...]  # [class][token]
    intercept: tuple[float, ...]
    metadata: dict[str, object]
    #: `coef` as a [class, token] array, for the dot products.
    _coef: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_coef", np.array(self.coef, dtype=np.float64))

    def probabilities(self, code: str) -> dict[str, float]:
        """P(language | text) over `classes` (uniform for a text with no known token)."""
        feats = {self.vocab[t]: math.log1p(n) for t, n in tokens(code).items() if t in self.vocab}
        norm = math.sqrt(sum(v * v for v in feats.values())) or 1.0
        sums: list[float] = [0.0] * len(self.classes)
        if feats:
            products = self._coef[:, list(feats)] * np.fromiter(feats.values(), np.float64)
            # cumsum adds left to right as sum() does (np.sum adds pairwise): the same floats
            sums = np.cumsum(products, axis=1)[:, -1].tolist()
        logits = [b + s / norm for s, b in zip(sums, self.intercept, strict=True)]
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}

    def predict(self, code: str) -> tuple[str, float]:
        """The most likely language and its probability."""
        probs = self.probabilities(code)
        best = max(probs, key=probs.__getitem__)
        return best, probs[best]

    def to_json(self) -> dict[str, object]:
        order = sorted(self.vocab, key=self.vocab.__getitem__)
        return {
            "classes": list(self.classes),
            "vocab": order,
            "coef": [[round(v, 4) for v in row] for row in self.coef],
            "intercept": [round(v, 4) for v in self.intercept],
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> LanguageDetector:
        vocab = [str(t) for t in doc["vocab"]]  # type: ignore[union-attr]
        return cls(
            classes=tuple(str(c) for c in doc["classes"]),  # type: ignore[union-attr]
            vocab={t: i for i, t in enumerate(vocab)},
            coef=tuple(tuple(float(v) for v in row) for row in doc["coef"]),  # type: ignore[union-attr]
            intercept=tuple(float(v) for v in doc["intercept"]),  # type: ignore[union-attr]
            metadata=dict(doc.get("metadata") or {}),  # type: ignore[call-overload]
        )


@lru_cache(maxsize=1)
def shipped_sha256() -> str:
    """Identity of the packaged detector: a model trained with another one saw other signals."""
    if not DETECTOR_PATH.is_file():
        return ""
    return hashlib.sha256(DETECTOR_PATH.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def shipped() -> LanguageDetector | None:
    """The packaged detector, or None if it was never trained (then rules alone decide)."""
    if not DETECTOR_PATH.is_file():
        return None
    return LanguageDetector.from_json(json.loads(DETECTOR_PATH.read_text(encoding="utf-8")))


#: C preprocessor directives that a Python comment does not look like ("# define an alias" does).
_C_DIRECTIVE_RE = re.compile(
    r"^[ \t]*#(?:[ \t]*include[ \t]*[<\"]|define[ \t]+\w|ifndef[ \t]+\w|pragma[ \t]+once)", re.M
)
_PY_STATEMENT_RE = re.compile(r"^(?:import|from|def|class|async def)\b", re.M)


def c_preprocessed(head: str) -> bool:
    """A C/C++ file opening with its directives: one before any top-level Python statement (a
    Python file may quote C source in a string, after its imports)."""
    directive = _C_DIRECTIVE_RE.search(head)
    if directive is None:
        return False
    statement = _PY_STATEMENT_RE.search(head)
    return statement is None or directive.start() < statement.start()
