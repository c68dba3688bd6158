"""How well the tree-sitter signals read each language of the labelled corpus (issue 25).

    python -m research.language_signals [--repeat N] [--signals a,b,...]

Per language (the row's `language` is the hint): the share of units that parse cleanly
(`parse_ok`), the share where at least one function is found, the mean `docstring_coverage` of
keep-worthy units (label >= 3) against the rest and its AUC, and the signals' cost per unit:
the whole `features.extract` and its tree-sitter part (parse, walk, structural signals) alone,
in ms, the best of N passes. The first languages (Java, Go, Rust) are the yardstick.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from eduscore.scoring import features
from eduscore.scoring.features import syntax

CORPUS = Path("/work/shared/data/edu-annotations/corpus.jsonl")
LANGUAGES = ("csharp", "php", "ruby", "swift", "cpp", "java", "go", "rust", "c", "javascript")


def _rows() -> dict[str, list[tuple[str, float]]]:
    by_lang: dict[str, list[tuple[str, float]]] = defaultdict(list)
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["language"] in LANGUAGES:
                by_lang[row["language"]].append((row["code"], float(row["label"])))
    return by_lang


def _best_ms(fn: object, codes: list[str], lang: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for code in codes:
            fn(code, lang)  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return 1000 * best / max(len(codes), 1)


def _tree_part(code: str, lang: str) -> None:
    walk = syntax.parse(code, lang)
    if walk is not None:
        syntax.code_features(walk, max(code.count("\n"), 1), {})


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def _auc(keep: list[float], rest: list[float]) -> float:
    """The chance a keep-worthy unit's value beats another's (ties count half)."""
    wins = sum((a > b) + 0.5 * (a == b) for a in keep for b in rest)
    return wins / (len(keep) * len(rest)) if keep and rest else float("nan")


def report(repeat: int, extra: list[str]) -> None:
    by_lang = _rows()
    head = f"{'lang':<11}{'n':>5}{'parse_ok':>9}{'has_fn':>8}{'doc>=3':>8}{'doc<3':>7}{'auc':>6}"
    head += "".join(f"{s[:14] + '>=3':>18}{'<3':>6}" for s in extra)
    print(head + f"{'extract_ms':>11}{'tree_ms':>9}")
    for lang in LANGUAGES:
        rows = by_lang.get(lang, [])
        if not rows:
            continue
        feats = [features.extract(code, lang) for code, _ in rows]
        keep = [f for f, (_, y) in zip(feats, rows, strict=True) if y >= 3]
        rest = [f for f, (_, y) in zip(feats, rows, strict=True) if y < 3]
        line = f"{lang:<11}{len(rows):>5}"
        line += f"{_mean([f['parse_ok'] for f in feats]):>9.2f}"
        line += f"{_mean([float(f['log_n_functions'] > 0) for f in feats]):>8.2f}"
        line += f"{_mean([f['docstring_coverage'] for f in keep]):>8.2f}"
        line += f"{_mean([f['docstring_coverage'] for f in rest]):>7.2f}"
        doc = ([f["docstring_coverage"] for f in keep], [f["docstring_coverage"] for f in rest])
        line += f"{_auc(*doc):>6.2f}"
        for s in extra:
            line += f"{_mean([f[s] for f in keep]):>18.2f}{_mean([f[s] for f in rest]):>6.2f}"
        codes = [code for code, _ in rows]
        line += f"{_best_ms(features.extract, codes, lang, repeat):>11.2f}"
        line += f"{_best_ms(_tree_part, codes, lang, repeat):>9.2f}"
        print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timing passes (the best is kept)")
    ap.add_argument("--signals", default="", help="more signals to compare, comma-separated")
    args = ap.parse_args()
    report(args.repeat, [s for s in args.signals.split(",") if s])


if __name__ == "__main__":
    main()
