"""Accuracy of the format detection on the labelled corpus (its `language` field is the truth,
from file names), overall and per language, with the confusions that remain.

    python -m research.language_detection [--corpus PATH]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from eduscore.scoring import features

CORPUS = Path("../shared/data/edu-annotations/corpus.jsonl")
#: Corpus names the detector reports under another name.
SAME: dict[str, str] = {}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    per: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    confusions: Counter[tuple[str, str]] = Counter()
    with args.corpus.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            truth = SAME.get(row["language"], row["language"])
            got = features.detected_language(features.extract(row["code"]))
            per[truth] += 1
            ok[truth] += got == truth
            if got != truth:
                confusions[(truth, got)] += 1
    total = sum(per.values())
    print(f"accuracy {sum(ok.values()) / total:.4f} over {total} units")
    for lang, n in per.most_common():
        print(f"  {lang:11s} {n:5d}  {ok[lang] / n:.3f}")
    print("top confusions (truth -> detected):")
    for (t, g), n in confusions.most_common(15):
        print(f"  {t} -> {g}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
