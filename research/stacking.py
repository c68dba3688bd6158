"""One-column stacked estimates beside the recipe's trees (EXPERIMENTS.md, session 10).

Each estimate is a linear model on a view the trees cannot read well: the snippet's words and
identifiers (TF-IDF), or the static table's mean vector (it reads 2,048 tokens, the encoder
256). Its column is cross-fitted: on an outer fold's training rows it comes from inner grouped
folds, on the held-out rows from the model fitted on all the training rows.

    python -m research.stacking                  # all variants
    python -m research.stacking base lex         # some
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from eduscore.scoring.static import StaticEmbedder
from eduscore.training.designs import signals_of
from eduscore.training.folds import outer_splits, package_folds
from eduscore.training.heads import N_SIGNALS, EduScoreHead
from research.harness import CACHE, corpus, frozen_design, run

POOL = Path("../shared/data/code-pool/pool.jsonl.gz")
STATIC = Path("models/current/fast/static")


def pool_codes(limit: int = 20000, seed: int = 0) -> list[str]:
    """A sample of the unlabelled pool: the vocabulary and IDF are fitted there, not on labels."""
    with gzip.open(POOL, "rt") as fh:
        codes = [json.loads(line)["code"] for line in fh]
    rng = np.random.default_rng(seed)
    return [codes[i] for i in rng.choice(len(codes), size=min(limit, len(codes)), replace=False)]


def lexical_matrix(codes: list[str], **kw: Any) -> sparse.csr_matrix:
    from eduscore.scoring.lexical import fit_vocabulary, tokens

    vocab = fit_vocabulary((tokens(c) for c in pool_codes()), **kw)
    return vocab.transform([tokens(c) for c in codes])


def static_vectors(codes: list[str]) -> np.ndarray:
    cache = CACHE / "static-corpus.npy"
    if cache.is_file():
        return np.load(cache)
    vectors = StaticEmbedder(str(STATIC)).encode(codes).vectors
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def crossfit(view: Any, y: np.ndarray, groups: np.ndarray, tr: np.ndarray, make: Any) -> np.ndarray:
    """The estimate for every row: inner-OOF on `tr`, fitted-on-`tr` elsewhere."""
    col = np.zeros(len(y))
    inner = package_folds(groups[tr], 4).split(tr, groups=groups[tr])
    for a, b in inner:
        col[tr[b]] = make().fit(view[tr[a]], y[tr[a]]).predict(view[tr[b]])
    rest = np.setdiff1d(np.arange(len(y)), tr)
    col[rest] = make().fit(view[tr], y[tr]).predict(view[rest])
    return col


def stacked_designs(x: np.ndarray, views: list[tuple[Any, Any]], data: Any) -> list[np.ndarray]:
    """Per outer fold: [signals | estimates | embedding]."""
    y, groups = data.labels, np.asarray(data.groups)
    out = []
    for tr, _ in outer_splits(groups, 5):
        cols = [crossfit(view, y, groups, tr, make) for view, make in views]
        out.append(np.hstack([x[:, :N_SIGNALS], np.column_stack(cols), x[:, N_SIGNALS:]]))
    return out


class KeepLogit:
    """A logistic model of keep-worthiness (label >= 3) whose `predict` is its log-odds."""

    def __init__(self, c: float = 4.0) -> None:
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(C=c, max_iter=2000)

    def fit(self, x: Any, y: np.ndarray) -> KeepLogit:
        self.model.fit(x, y >= 3.0)
        return self

    def predict(self, x: Any) -> np.ndarray:
        return self.model.decision_function(x)


def char_matrix(codes: list[str]) -> Any:
    """Character 3-5-grams inside word boundaries, vocabulary and IDF from the pool."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), min_df=5, max_features=100000, sublinear_tf=True
    )
    vec.fit([c[:3000] for c in pool_codes(10000)])
    return vec.transform(codes)


def reshuffled_folds(seed: int) -> None:
    """Outer folds from another random assignment of packages (GroupKFold with shuffle), for
    CV, the lexical cross-fitting and this script alike: a second opinion on a small gain."""
    from sklearn.model_selection import GroupKFold

    import eduscore.training.cv as cv
    import eduscore.training.stacked as stacked

    def splits(groups: Any, n_splits: int) -> list[tuple[Any, Any]]:
        kfold = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return list(kfold.split(np.zeros(len(groups)), groups=np.asarray(groups)))

    cv.outer_splits = stacked.outer_splits = splits
    globals()["outer_splits"] = splits


def lexical_alpha() -> float:
    import eduscore.training.stacked as stacked

    return stacked.ALPHA


def ridge(alpha: float) -> Any:
    from sklearn.linear_model import Ridge

    return lambda: Ridge(alpha=alpha)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=["base", "lex", "static", "lex_static", "fast"])
    ap.add_argument("--alpha", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0, help="0: the shipped folds")
    ap.add_argument("--product-alpha", type=float, default=0.0, help="0: the shipped ALPHA")
    args = ap.parse_args(argv)
    if args.seed:
        reshuffled_folds(args.seed)
    if args.product_alpha:  # the shipped recipe with another ridge penalty
        import eduscore.training.stacked as stacked

        stacked.ALPHA = args.product_alpha
    data = corpus()
    x = frozen_design(data)
    st = static_vectors(data.codes)
    lexical = {"lex", "lex_static", "fast", "lex_keep", "lex_char"}
    lex = lexical_matrix(data.codes) if lexical & set(args.names) else None
    char = char_matrix(data.codes) if "lex_char" in args.names else None
    views = {
        "lex_keep": [(lex, ridge(args.alpha)), (lex, KeepLogit)],
        "lex_char": [(lex, ridge(args.alpha)), (char, ridge(args.alpha))],
        "lex": [(lex, ridge(args.alpha))],
        "static": [(st, ridge(1.0))],
        "lex_static": [(lex, ridge(args.alpha)), (st, ridge(1.0))],
    }
    for name in args.names:
        if name == "base":
            run("base (shipped recipe, frozen)", EduScoreHead(), x, data)
        elif name == "product":  # the shipped recipe: vocabulary from each fold's own texts
            from eduscore.training.stacked import lexical_signal, with_column

            sig = signals_of(data, progress=False)
            d = [with_column(x, col) for col in lexical_signal(data, sig, 5).per_fold]
            name = f"product lexical signal (alpha {lexical_alpha()}, seed {args.seed})"
            run(name, EduScoreHead(n_signals=N_SIGNALS + 1), d, data)
        elif name == "fast":
            xs = np.hstack([x[:, :N_SIGNALS], st])
            run("fast base", EduScoreHead(), xs, data)
            d = stacked_designs(xs, views["lex"], data)
            run(f"fast + lex ridge a={args.alpha}", EduScoreHead(n_signals=N_SIGNALS + 1), d, data)
        else:
            d = stacked_designs(x, views[name], data)
            head = EduScoreHead(n_signals=N_SIGNALS + len(views[name]))
            run(f"{name} a={args.alpha}", head, d, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def masked(argv: list[str] | None = None) -> int:
    """The lexical column left out (a constant) for config formats: their words (YAML keys, a
    quiz's questions in TOML) say little about teaching value.

    python -c 'import research.stacking as s; s.masked()' [--seed N]
    """
    from eduscore.scoring import features
    from eduscore.training.evaluation import language_group
    from eduscore.training.stacked import lexical_signal, with_column

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.seed:
        reshuffled_folds(args.seed)
    data = corpus()
    x = frozen_design(data)
    cfg = x[:, features.FEATURE_NAMES.index("config_format")] == 1.0
    lex = lexical_signal(data, [{}] * len(data), 5)  # every row read: the mask is applied below
    groups = np.array([language_group(lang) for lang in data.languages])
    for name, const in (("unmasked", None), ("masked 0", 0.0), ("masked 2", 2.0)):
        cols = [c if const is None else np.where(cfg, const, c) for c in lex.per_fold]
        d = [with_column(x, c) for c in cols]
        res = run(f"{name} seed {args.seed}", EduScoreHead(n_signals=N_SIGNALS + 1), d, data)
        kept = (res.oof >= 3) & (groups == "config and text")
        worthy = int((data.labels[kept] >= 3).sum())
        print(f"    config kept {kept.sum()}, keep-worthy among them {worthy}")
    return 0
