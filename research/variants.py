"""Head variants on the same cached designs and folds (rows of models/EXPERIMENTS.md).

python -m research.variants                 # all
python -m research.variants shipped pca32   # some
python -m research.variants --tuned         # on the shipped designs (tuned encoder + lexical)
"""

from __future__ import annotations

import argparse
from typing import Any

from eduscore.training.folds import package_folds
from eduscore.training.heads import N_SIGNALS, EduScoreHead
from research.harness import corpus, frozen_design, run, shipped_designs


class RidgeStackedHead(EduScoreHead):
    """The recipe, with the grouped out-of-fold estimate of a ridge on the whole embedding as
    one more input of the trees (stacking). Measured, not adopted: EXPERIMENTS.md, session 8."""

    def __init__(self, *, embedding_ridge: float = 100.0, **kw: Any) -> None:
        super().__init__(**kw)
        self.embedding_ridge = embedding_ridge

    def _regressor(self, groups: Any) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import StackingRegressor, VotingRegressor
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import Pipeline

        trees = VotingRegressor(
            [("pca", self._trees(self.n_components, 1)), ("signals", self._trees(0, 1))]
        )
        emb = ColumnTransformer([("embedding", "passthrough", slice(self.n_signals, None))])
        ridge = Pipeline([("columns", emb), ("ridge", Ridge(alpha=self.embedding_ridge))])
        splits = list(package_folds(groups, self.inner_folds).split(groups, groups=groups))
        return StackingRegressor(
            [("ridge", ridge)], final_estimator=trees, cv=splits, passthrough=True
        )


VARIANTS = {
    "shipped": {},
    "signals_only": {"n_components": 0},
    "pca8": {"n_components": 8},
    "pca32": {"n_components": 32},
    "pca64": {"n_components": 64},
    "deeper": {"max_leaf_nodes": 31, "max_iter": 400},
    "slower": {"learning_rate": 0.03, "max_iter": 600},
    "leaf10": {"min_samples_leaf": 10},
}
STACKED = {"ridge10": {"embedding_ridge": 10.0}, "ridge100": {"embedding_ridge": 100.0}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=[*VARIANTS, *STACKED])
    ap.add_argument("--tuned", action="store_true", help="the shipped designs, not the frozen one")
    args = ap.parse_args(argv)
    data = corpus()
    if args.tuned:  # no ridge-stacked rows: tuned training rows' embeddings saw their labels
        x: Any = shipped_designs(data)
        for name in [n for n in args.names if n in VARIANTS]:
            run(name, EduScoreHead(**VARIANTS[name], n_signals=N_SIGNALS + 1), x, data)
        return 0
    x = frozen_design(data)
    for name in args.names:
        head = RidgeStackedHead(**STACKED[name]) if name in STACKED else None
        run(name, head or EduScoreHead(**VARIANTS[name]), x, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
