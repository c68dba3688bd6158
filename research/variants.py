"""Head variants on the same cached designs and folds (rows of models/EXPERIMENTS.md).

python -m research.variants                 # all
python -m research.variants shipped pca32   # some
python -m research.variants --tuned         # on the shipped designs (tuned encoder + lexical)
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from eduscore.training.folds import package_folds
from eduscore.training.heads import N_SIGNALS, EduScoreHead
from research.harness import corpus, frozen_design, run, shipped_designs


class RowPackages:
    """Grouped inner folds over whichever rows `split` is given, each row's package found by the
    row itself: the head fits its regressor with no groups, and the stacking's own folds must
    still keep a package on one side (rows that repeat exactly share the last one's package)."""

    def __init__(self, x: Any, groups: Any, n_splits: int) -> None:
        self.package_of = {row.tobytes(): g for row, g in zip(x, groups, strict=True)}
        self.n_splits = n_splits

    def split(self, x: Any, y: Any = None, groups: Any = None) -> Any:
        groups = np.array([self.package_of[row.tobytes()] for row in x])
        return package_folds(groups, self.n_splits).split(x, y, groups=groups)

    def get_n_splits(self, x: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_splits


class RidgeStackedHead(EduScoreHead):
    """The recipe, with the grouped out-of-fold estimate of a ridge on the whole embedding as
    one more input of the trees (stacking). Measured, not adopted: EXPERIMENTS.md, session 8."""

    def __init__(self, *, embedding_ridge: float = 100.0, **kw: Any) -> None:
        super().__init__(**kw)
        self.embedding_ridge = embedding_ridge

    def fit(self, x: Any, y: Any, groups: Any = None) -> RidgeStackedHead:
        groups = np.zeros(len(y)) if groups is None else np.asarray(groups)
        self._packages = RowPackages(x, groups, self.inner_folds)
        return super().fit(x, y, groups)

    def _regressor(self) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import StackingRegressor
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import Pipeline

        # The shipped regressor on [ridge estimate | signals | embedding]: one more lead column.
        params = {k: getattr(self, k) for k in EduScoreHead._get_param_names()}
        trees = EduScoreHead(**{**params, "n_signals": self.n_signals + 1})._regressor()
        emb = ColumnTransformer([("embedding", "passthrough", slice(self.n_signals, None))])
        ridge = Pipeline([("columns", emb), ("ridge", Ridge(alpha=self.embedding_ridge))])
        return StackingRegressor(
            [("ridge", ridge)], final_estimator=trees, cv=self._packages, passthrough=True
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
