"""Per-fold probe of encoder tuning on the 7,181-unit corpus, with and without the lexical signal.

Tunes the encoder on one outer fold's training packages (cached by run key in the same cache as
`eduscore train --finetune`, so a full run reuses it), then fits the recipe's head on that fold
and scores its held-out packages, beside the frozen encoder on the same fold.

    python -m research.tuned_probe 0 1     # outer folds 0 and 1
    python -m research.tuned_probe --pooled  # all five folds pooled, as the card's CV
"""

from __future__ import annotations

import argparse

import numpy as np

from eduscore.scoring.embedding import Embedder
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folds", nargs="*", type=int)
    ap.add_argument("--pooled", action="store_true", help="pooled out-of-fold CV of all folds")
    args = ap.parse_args(argv)
    data = corpus()
    frozen = frozen_design(data)
    signals = signals_of(data, progress=False)
    lex = lexical_signal(data, signals, 5)
    base = Embedder("")
    splits = outer_splits(data.groups, 5)
    if args.pooled:
        one = EduScoreHead(n_signals=N_SIGNALS + 1)
        run("frozen + lexical (pooled)", one, lex.designs(frozen), data)
        run("tuned + lexical (pooled)", one, shipped_designs(data), data)
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
