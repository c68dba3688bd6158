"""Per-fold probe of encoder tuning on the corpus, with and without the lexical signal.

Tunes the encoder on one outer fold's training packages (cached by run key in the same cache as
`eduscore train --finetune`, so a full run reuses it), then fits the recipe's head on that fold
and scores its held-out packages, beside the frozen encoder on the same fold.

    python -m research.tuned_probe 0 1     # outer folds 0 and 1
    python -m research.tuned_probe --pooled  # all five folds pooled, as the card's CV
    python -m research.tuned_probe --pooled --oof-out /tmp/tuned  # + oof.json for
        # research.paired_bootstrap against models/current

`--pooled` also splits each row into the languages before session 12 and the four it added.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from eduscore.scoring.embedding import Embedder
from eduscore.training.data import LabelledSet
from eduscore.training.designs import build_design, signals_of, tuned_encoder
from eduscore.training.evaluation import compute_metrics, headline
from eduscore.training.finetune import FinetuneConfig
from eduscore.training.folds import outer_splits
from eduscore.training.heads import N_SIGNALS, EduScoreHead
from eduscore.training.stacked import lexical_signal, with_column
from research.harness import CACHE, corpus, frozen_design, run, shipped_designs


def fold_row(name: str, head: EduScoreHead, x: np.ndarray, data, tr, te) -> None:
    fitted = head.fit(x[tr], data.labels[tr], groups=np.asarray(data.groups)[tr])
    m = compute_metrics(data.labels[te], fitted.predict(x[te]))
    print(f"  {name}: {headline(m)}", flush=True)


#: The languages session 12 added; the rest are the "first eight" (and config) of #25's target.
NEW = ("csharp", "php", "ruby", "swift")


def split_rows(oof: np.ndarray, data: LabelledSet) -> None:
    """The pooled row again over the first languages and over the four new ones."""
    new = np.isin(np.asarray(data.languages), NEW)
    for name, mask in (("first eight", ~new), ("new four", new)):
        print(f"    {name}: {headline(compute_metrics(data.labels[mask], oof[mask]))}")


def write_oof(out: Path, data: LabelledSet, oof: np.ndarray) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = {"ids": list(data.ids), "scores": [round(float(v), 6) for v in oof]}
    (out / "oof.json").write_text(json.dumps(rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folds", nargs="*", type=int)
    ap.add_argument("--pooled", action="store_true", help="pooled out-of-fold CV of all folds")
    ap.add_argument("--oof-out", type=Path, help="with --pooled: write the tuned oof.json here")
    args = ap.parse_args(argv)
    data = corpus()
    frozen = frozen_design(data)
    signals = signals_of(data, progress=False)
    lex = lexical_signal(data, signals, 5)
    base = Embedder("")
    splits = outer_splits(data.groups, 5)
    if args.pooled:
        one = EduScoreHead(n_signals=N_SIGNALS + 1)
        frozen_cv = run("frozen + lexical (pooled)", one, lex.designs(frozen), data)
        split_rows(frozen_cv.oof, data)
        tuned_cv = run("tuned + lexical (pooled)", one, shipped_designs(data), data)
        split_rows(tuned_cv.oof, data)
        if args.oof_out:
            write_oof(args.oof_out, data, tuned_cv.oof)
        return 0
    for i in args.folds:
        tr, te = splits[i]
        encoder = tuned_encoder(base, data, tr, FinetuneConfig(), cache_dir=CACHE)
        tuned = build_design(encoder, data, signals=signals, cache_dir=CACHE, progress=False)
        print(f"fold {i} ({len(te)} held out):", flush=True)
        fold_row("frozen", EduScoreHead(), frozen, data, tr, te)
        fold_row("tuned", EduScoreHead(), tuned, data, tr, te)
        one = EduScoreHead(n_signals=N_SIGNALS + 1)
        fold_row("frozen + lexical", one, with_column(frozen, lex.per_fold[i]), data, tr, te)
        fold_row("tuned + lexical", one, with_column(tuned, lex.per_fold[i]), data, tr, te)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
