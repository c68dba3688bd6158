"""The largest out-of-fold disagreements of the shipped model (its oof.json), by language and kind.

python -m research.error_analysis [--top 40]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from eduscore.training.artifacts import OOF_FILE
from eduscore.training.evaluation import language_group
from research.harness import CORPUS, corpus


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--model-dir", type=Path, default=Path("models/current"))
    args = ap.parse_args(argv)
    data = corpus()
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    saved = json.loads((args.model_dir / OOF_FILE).read_text())
    by_id = dict(zip(saved["ids"], saved["scores"], strict=True))
    oof = np.array([by_id[i] for i in data.ids])
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
