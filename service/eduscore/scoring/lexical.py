"""The lexical estimate: a ridge regression on a snippet's words and word pairs (TF-IDF).

The trees read named structural signals and a 16-component summary of an embedding; neither
sees *which* words a snippet uses ("example", "returns", "protoimpl", "TODO"). This linear model
does, and its one number is stacked into the trees as a signal. The vocabulary and IDF come
from the training units' text alone, the coefficients from their labels; all of it is plain
JSON (no pickle), and scoring needs neither scikit-learn nor SciPy, so the fast tier reads it
too.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.errors import ModelLoadError

FILE = "lexical.json"
#: The signal it adds, after the extracted ones: ScoredSnippet.signals explains the score with it.
STACKED_NAME = "lexical_estimate"
#: Words (identifiers are split at underscores and case changes, so `parse_args` and `parseArgs`
#: share their parts) and the comment and doc markers that tell explanation from code.
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|///|//!|/\*\*|\"\"\"|>>>|#|//|@\w+")
#: The estimate of a snippet it does not read (see `reads`).
NOT_READ = 0.0
#: Characters read per snippet: the corpus's units are at most 3,000; longer files are judged by
#: their head, as the encoder does.
MAX_CHARS = 8000


def tokens(code: str) -> list[str]:
    """Lower-cased word tokens, then every adjacent pair (bigrams carry phrases like 'for
    example' and 'do not edit')."""
    words = [w.lower() for w in _TOKEN.findall(code[:MAX_CHARS])]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def reads(signals: Mapping[str, float]) -> bool:
    """Whether the estimate reads a snippet: not config formats, whose words (YAML keys, a
    quiz's questions in TOML) say little about teaching value; read, they made the head keep up
    to 7 config files, at most one of them keep-worthy (EXPERIMENTS.md, session 10)."""
    return not signals.get("config_format")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Token -> column, with each column's inverse document frequency (smoothed, as sklearn)."""

    index: dict[str, int]
    idf: npt.NDArray[np.float64]

    def weights(self, toks: Sequence[str]) -> dict[int, float]:
        """A snippet's L2-normalised sublinear TF-IDF row from its `tokens`, as {column: weight}."""
        counts = Counter(self.index[t] for t in toks if t in self.index)
        row = {i: (1.0 + math.log(c)) * self.idf[i] for i, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in row.values()))
        return {k: v / norm for k, v in row.items()} if norm else {}

    def transform(self, docs: Sequence[Sequence[str]]) -> Any:
        """A scipy CSR matrix of tokenized snippets (training only; scoring uses `weights`)."""
        from scipy import sparse

        data, cols, ptr = [], [], [0]
        for toks in docs:
            row = self.weights(toks)
            cols.extend(row)
            data.extend(row.values())
            ptr.append(len(cols))
        shape = (len(docs), len(self.index))
        return sparse.csr_matrix((np.asarray(data), np.asarray(cols, np.int64), ptr), shape=shape)


def fit_vocabulary(
    docs: Iterable[Sequence[str]], *, min_df: int = 5, max_features: int = 60000
) -> Vocabulary:
    """The `max_features` tokens in most of the tokenized snippets (at least `min_df`)."""
    df: Counter[str] = Counter()
    n = 0
    for toks in docs:
        df.update(set(toks))
        n += 1
    kept = sorted((t for t, c in df.items() if c >= min_df), key=lambda t: (-df[t], t))
    kept = sorted(kept[:max_features])
    idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept])
    return Vocabulary(index={t: i for i, t in enumerate(kept)}, idf=idf)


class LexicalModel:
    """The vocabulary and a linear model over it: `predict` is the stacked signal."""

    def __init__(self, vocabulary: Vocabulary, coef: npt.NDArray[np.float64], intercept: float):
        self.vocabulary, self.coef, self.intercept = vocabulary, coef, intercept
        # token -> (idf, idf * coef): a snippet costs one dict lookup per distinct token.
        self._table = {
            t: (float(vocabulary.idf[i]), float(vocabulary.idf[i] * coef[i]))
            for t, i in vocabulary.index.items()
        }

    def predict(self, codes: Sequence[str]) -> npt.NDArray[np.float64]:
        """intercept + coef . (L2-normalised sublinear TF-IDF row), as Vocabulary.transform."""
        out = np.full(len(codes), self.intercept)
        table = self._table
        for i, code in enumerate(codes):
            dot = norm = 0.0
            for token, count in Counter(tokens(code)).items():
                entry = table.get(token)
                if entry is not None:
                    tf = 1.0 + math.log(count)
                    dot += tf * entry[1]
                    norm += (tf * entry[0]) ** 2
            if norm:
                out[i] += dot / math.sqrt(norm)
        return out

    def stacked(self, codes: Sequence[str], signals: Sequence[Mapping[str, float]]) -> list[float]:
        """The signal the heads read: the estimate where it `reads` the snippet, else NOT_READ."""
        read = [i for i, row in enumerate(signals) if reads(row)]
        out = [NOT_READ] * len(codes)
        for i, value in zip(read, self.predict([codes[i] for i in read]), strict=True):
            out[i] = float(value)
        return out

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / FILE
        tokens_ = sorted(self.vocabulary.index, key=self.vocabulary.index.__getitem__)
        doc = {
            "tokens": tokens_,
            "idf": [round(float(v), 6) for v in self.vocabulary.idf],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": self.intercept,
        }
        path.write_text(json.dumps(doc, separators=(",", ":")))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> LexicalModel | None:
        """The model directory's lexical model, or None when it was trained without one."""
        path = Path(directory) / FILE
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text())
            vocab = Vocabulary(
                index={t: i for i, t in enumerate(doc["tokens"])},
                idf=np.asarray(doc["idf"], dtype=np.float64),
            )
            coef, intercept = np.asarray(doc["coef"], np.float64), float(doc["intercept"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{path}: unreadable lexical model: {exc}") from None
        if not len(coef) == len(vocab.idf) == len(vocab.index):
            raise ModelLoadError(f"{path}: tokens, idf and coef differ in length")
        return cls(vocab, coef, intercept)
