"""Fit the packaged language detector (scoring/features/language_id.py) on unlabelled code.

The code pool's `language` field comes from file names, so it is a free, large training set for
the languages it has; languages it lacks (C#, PHP, Ruby, Swift, most C++) and the `other` and
`text` classes come from source folders given with `--extra` (any code on disk, named by file
extension: Debian's and npm's packages were used, see the detector's metadata). The labelled
corpus is never read here, so it measures the detector on code it never saw
(research/language_detection.py).

    python -m eduscore.training.language_id --pool ../shared/data/code-pool/pool.jsonl.gz \
        --extra /path/to/sources --extra cpp:/usr/include/c++/12
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from eduscore.scoring.features.formats import PROGRAMMING_LANGUAGES
from eduscore.scoring.features.language_id import DETECTOR_PATH, LanguageDetector, tokens
from eduscore.training.data import file_sha256

#: What the detector chooses among: the programming languages, `other` (code in a language none
#: of them is) and `text` (prose). The config formats are left to exact rules.
CLASSES = (*PROGRAMMING_LANGUAGES, "other", "text")
PER_CLASS = 4000
VOCAB = 5000
#: Pieces cut from one file of an extra folder: its head and a few windows of lines, the shapes of
#: the corpus's units (file heads, functions, dedented methods). More would let one file dominate.
PIECES_PER_FILE = 4
HEAD_CHARS = 2200
#: Extra folders' files by extension. Headers (.h) are C or C++; a folder given as `cpp:DIR`
#: names its own language for them and for extensionless files (C++'s standard headers).
EXTENSIONS = {
    ".py": "python", ".js": "javascript", ".mjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".go": "go", ".java": "java", ".rs": "rust",
    ".c": "c", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "csharp", ".php": "php", ".rb": "ruby", ".swift": "swift", ".sh": "shell",
    ".bash": "shell", ".kt": "other", ".kts": "other", ".m": "other", ".mm": "other",
    ".pl": "other", ".pm": "other", ".lua": "other", ".scala": "other", ".hs": "other",
    ".ex": "other", ".erl": "other", ".dart": "other", ".r": "other", ".jl": "other",
    ".md": "text", ".rst": "text", ".txt": "text",
}  # fmt: skip
_MAX_FILE_BYTES = 400_000


def _pool_rows(path: Path) -> Iterator[tuple[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                yield row["language"], row["code"]


def _language(file: Path, forced: str) -> str:
    ext = file.suffix.lower()
    if forced and (ext in (".h", "") or EXTENSIONS.get(ext) == forced):
        return forced
    return "" if forced else EXTENSIONS.get(ext, "")


def pieces(text: str, rng: random.Random) -> list[str]:
    """The head of a file and windows of its lines (dedented), each at least a few lines."""
    lines = text.split("\n")
    out = [text[:HEAD_CHARS]]
    for _ in range(PIECES_PER_FILE - 1):
        if len(lines) < 12:
            break
        size = rng.randint(6, 60)
        start = rng.randrange(max(len(lines) - size, 1))
        out.append(textwrap.dedent("\n".join(lines[start : start + size]))[:3000])
    return [p for p in out if len(p.strip()) >= 40]


def _extra_rows(spec: str, rng: random.Random) -> Iterator[tuple[str, str]]:
    forced, _, folder = spec.rpartition(":")
    for file in sorted(Path(folder).rglob("*")):
        lang = _language(file, forced)
        if lang not in CLASSES or not file.is_file() or file.stat().st_size > _MAX_FILE_BYTES:
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for piece in pieces(text, rng):
            yield lang, piece


def sample(pool: Path, extra: list[str], seed: int = 0) -> list[tuple[str, str]]:
    """At most PER_CLASS (language, code) pairs per class, pool first, then the extra folders."""
    rng = random.Random(seed)
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, code in _pool_rows(pool):
        if lang in CLASSES:
            by_lang[lang].append(code)
    for spec in extra:
        for lang, code in _extra_rows(spec, rng):
            by_lang[lang].append(code)
    out = []
    for lang in sorted(by_lang):
        codes = by_lang[lang]
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


def _fingerprint(rows: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for lang, code in rows:
        digest.update(lang.encode() + b"\0" + code.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def fit(pool: Path, extra: list[str], sources: dict[str, str]) -> LanguageDetector:
    """Logistic regression on the VOCAB tokens found in the most documents."""
    from sklearn.linear_model import LogisticRegression

    rows = sample(pool, extra)
    counts = [tokens(code) for _, code in rows]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    vocab = {t: i for i, (t, _) in enumerate(df.most_common(VOCAB))}
    y = [lang for lang, _ in rows]
    clf = LogisticRegression(C=20.0, max_iter=3000).fit(_matrix(counts, vocab), y)
    return LanguageDetector(
        classes=tuple(str(c) for c in clf.classes_),
        vocab=vocab,
        coef=tuple(tuple(float(v) for v in row) for row in clf.coef_),
        intercept=tuple(float(v) for v in clf.intercept_),
        metadata={
            "trained_on": {"pool": pool.name, "pool_sha256": file_sha256(pool), "n": len(rows)},
            "samples_sha256": _fingerprint(rows),
            "per_class": dict(sorted(Counter(y).items())),
            "extra_sources": sources,
            "per_class_cap": PER_CLASS,
            "vocab_size": len(vocab),
        },
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=Path, required=True)
    ap.add_argument("--extra", action="append", default=[], help="[LANG:]DIR of source files")
    ap.add_argument("--sources", default="", help="JSON: what the extra folders hold (metadata)")
    ap.add_argument("--out", type=Path, default=DETECTOR_PATH)
    args = ap.parse_args(argv)
    sources = json.loads(args.sources) if args.sources else {}
    detector = fit(args.pool, args.extra, sources)
    args.out.write_text(json.dumps(detector.to_json(), separators=(",", ":")), encoding="utf-8")
    print(f"wrote {args.out} ({len(detector.vocab)} tokens, {detector.metadata['per_class']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
