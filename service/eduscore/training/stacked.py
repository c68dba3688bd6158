"""The lexical estimate as a stacked signal: cross-fitted so the trees never see an estimate
fitted on the row it describes.

A ridge on TF-IDF words (scoring/lexical.py) memorises its training rows; were the trees
trained on those in-sample estimates, they would over-trust the column and fail on new
packages. So, for each outer CV fold, the training rows get estimates from inner grouped folds
and the held-out rows from the model fitted on all the training rows (vocabulary included: no
held-out text shapes it). The final head trains on grouped out-of-fold estimates over all
rows, and the served model is fitted on everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.scoring.lexical import (
    FILE,
    NOT_READ,
    STACKED_NAME,
    LexicalModel,
    fit_vocabulary,
    reads,
    tokens,
)
from eduscore.training.data import LabelledSet
from eduscore.training.folds import outer_splits, package_folds
from eduscore.training.heads import N_SIGNALS

#: Ridge penalty; 1, 3 and 10 were measured in grouped CV (EXPERIMENTS.md, session 10).
ALPHA = 3.0
#: Vocabulary size and the documents a token must appear in to be kept.
MAX_FEATURES, MIN_DF = 60000, 3


def fit_lexical(docs: Sequence[Sequence[str]], labels: npt.NDArray[np.float64]) -> LexicalModel:
    """Vocabulary and ridge from the same tokenized rows (no labels reach the vocabulary)."""
    from sklearn.linear_model import Ridge

    vocab = fit_vocabulary(docs, min_df=MIN_DF, max_features=MAX_FEATURES)
    ridge = Ridge(alpha=ALPHA).fit(vocab.transform(docs), labels)
    return LexicalModel(vocab, np.asarray(ridge.coef_, np.float64), float(ridge.intercept_))


def cross_fitted(
    docs: list[list[str]], data: LabelledSet, train: npt.NDArray[np.int64], folds: int
) -> tuple[npt.NDArray[np.float64], LexicalModel]:
    """Every row's estimate: grouped out-of-fold on `train`, fitted on `train` elsewhere; and
    the model fitted on `train` (what estimates rows outside it)."""
    col = np.zeros(len(data))
    groups = np.asarray(data.groups)

    def fit_predict(fit: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> LexicalModel:
        model = fit_lexical([docs[i] for i in fit], data.labels[fit])
        col[rows] = model.vocabulary.transform([docs[i] for i in rows]) @ model.coef
        col[rows] += model.intercept
        return model

    for a, b in package_folds(groups[train], folds).split(train, groups=groups[train]):
        fit_predict(train[a], train[b])
    return col, fit_predict(train, np.setdiff1d(np.arange(len(data)), train))


@dataclass(frozen=True, slots=True)
class StackedSignal:
    """The estimate column for each outer fold's design, for the final design, and the model
    that serves it."""

    per_fold: list[npt.NDArray[np.float64]]
    final: npt.NDArray[np.float64]
    model: LexicalModel
    #: The model each outer fold's held-out rows were estimated by (fitted on its training rows).
    fold_models: tuple[LexicalModel, ...] = ()

    def designs(self, x: Any) -> list[npt.NDArray[np.float32]]:
        """Each outer fold's design with its own column (`x`: one design, or one per fold)."""
        return [
            with_column(x if isinstance(x, np.ndarray) else x[i], col)
            for i, col in enumerate(self.per_fold)
        ]

    def record(self) -> dict[str, Any]:
        """What metadata.json says of it."""
        return {
            "name": STACKED_NAME,
            "file": FILE,
            "model": "ridge on sublinear TF-IDF of words and word pairs",
            "alpha": ALPHA,
            "vocabulary": len(self.model.vocabulary.index),
            "min_df": MIN_DF,
            "fitted_on": "cross-fitted: inner grouped folds inside each outer fold",
            "not_read": {"formats": "config (config_format)", "value": NOT_READ},
        }


def lexical_signal(
    data: LabelledSet,
    signals: Sequence[Mapping[str, float]],
    n_splits: int,
    inner_folds: int = 4,
) -> StackedSignal:
    """Cross-fitted lexical estimates on the outer folds of `eduscore train`; NOT_READ where
    the served model does not read the snippet (`lexical.reads` of its signals)."""
    docs = [tokens(code) for code in data.codes]  # tokenized once for all 25 fits
    read = np.array([reads(row) for row in signals], dtype=bool)
    per_fold, final, models = [], np.zeros(len(data)), []
    for tr, te in outer_splits(data.groups, n_splits):
        col, model = cross_fitted(docs, data, np.asarray(tr), inner_folds)
        per_fold.append(np.where(read, col, NOT_READ))
        models.append(model)
        final[te] = per_fold[-1][te]  # each row's estimate from the fold that held its package out
    return StackedSignal(per_fold, final, fit_lexical(docs, data.labels), tuple(models))


def with_column(x: npt.NDArray[np.float32], col: npt.NDArray[np.float64]) -> npt.NDArray:
    """[signals | embedding] -> [signals | estimate | embedding], the order served
    (tiers.design_matrix with the model's feature names)."""
    lead = x[:, :N_SIGNALS]
    return np.hstack([lead, col[:, None].astype(np.float32), x[:, N_SIGNALS:]])
