"""The largest out-of-fold disagreements of the shipped recipe, grouped by language and kind.

    python -m research.error_analysis [--top 40]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np

from eduscore.training.evaluation import language_group
from eduscore.training.heads import EduScoreHead
from research.harness import CORPUS, corpus, frozen_design, run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args(argv)
    data = corpus()
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    oof = run("shipped recipe", EduScoreHead(), frozen_design(data), data).oof
    err = oof - data.labels
    worst = np.argsort(-np.abs(err))[: args.top]
    kinds = Counter((language_group(data.languages[i]), rows[i]["kind"], err[i] > 0) for i in worst)
    print(f"\n{args.top} largest |score - label|, by language group, kind, direction:")
    for (lang, kind, over), n in kinds.most_common():
        print(f"  {lang:22s} {kind:12s} {'over' if over else 'under':5s} {n}")
    print("\nunits (id, package, path, label, score):")
    for i in worst:
        r = rows[i]
        print(f"  {r['id']} {r['package']} {r['path']}:{r['start_line']} "
              f"label {data.labels[i]:.1f} score {oof[i]:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
