"""Fit the packaged language detector (scoring/features/language_id.py) on unlabelled code.

The code pool's `language` field comes from file names, so it is a free, large training set
for telling languages apart; the labelled corpus (no unit of it is in the pool) measures it.

    python -m eduscore.training.language_id --pool ../shared/data/code-pool/pool.jsonl.gz \
        --eval ../shared/data/edu-annotations/corpus.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from eduscore.scoring.features.language_id import DETECTOR_PATH, LanguageDetector, tokens
from eduscore.training.data import file_sha256

#: What the detector chooses among; cpp counts as c (43 units in the pool: too few to learn
#: apart, and one grammar family), the config formats are left to exact rules.
CLASSES = ("python", "javascript", "typescript", "go", "java", "rust", "c", "shell")
ALIASES = {"cpp": "c"}
PER_CLASS = 4000
VOCAB = 3000


def _rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _sample(path: Path, seed: int = 0) -> list[tuple[str, str]]:
    by_lang: dict[str, list[str]] = defaultdict(list)
    for row in _rows(path):
        lang = ALIASES.get(row["language"], row["language"])
        if lang in CLASSES:
            by_lang[lang].append(row["code"])
    rng = random.Random(seed)
    out = []
    for lang, codes in by_lang.items():
        rng.shuffle(codes)
        out += [(lang, c) for c in codes[:PER_CLASS]]
    return out


def _matrix(counts: list[Counter[str]], vocab: dict[str, int]) -> np.ndarray:
    x = np.zeros((len(counts), len(vocab)), np.float32)
    for i, c in enumerate(counts):
        for t, n in c.items():
            j = vocab.get(t)
            if j is not None:
                x[i, j] = np.log1p(n)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def fit(pool: Path) -> LanguageDetector:
    """Logistic regression on the VOCAB tokens found in the most documents."""
    from sklearn.linear_model import LogisticRegression

    sample = _sample(pool)
    counts = [tokens(code) for _, code in sample]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    vocab = {t: i for i, (t, _) in enumerate(df.most_common(VOCAB))}
    y = [lang for lang, _ in sample]
    clf = LogisticRegression(C=20.0, max_iter=2000).fit(_matrix(counts, vocab), y)
    return LanguageDetector(
        classes=tuple(str(c) for c in clf.classes_),
        vocab=vocab,
        coef=tuple(tuple(float(v) for v in row) for row in clf.coef_),
        intercept=tuple(float(v) for v in clf.intercept_),
        metadata={
            "trained_on": {"path": pool.name, "sha256": file_sha256(pool), "n": len(sample)},
            "per_class_cap": PER_CLASS,
            "vocab_size": len(vocab),
            "aliases": ALIASES,
        },
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=DETECTOR_PATH)
    args = ap.parse_args(argv)
    detector = fit(args.pool)
    args.out.write_text(json.dumps(detector.to_json(), separators=(",", ":")), encoding="utf-8")
    print(f"wrote {args.out} ({len(detector.vocab)} tokens, classes {detector.classes})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
