"""Grouped cross-validation of a head: out-of-fold scores and their metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from tqdm.auto import tqdm

from eduscore.scoring import features
from eduscore.training.data import LabelledSet
from eduscore.training.evaluation import compute_metrics, language_group
from eduscore.training.folds import outer_splits
from eduscore.training.heads import N_SIGNALS, EduScoreHead

Design = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class CVResult:
    """Out-of-fold scores (input order) and their metrics, pooled and per fold/group."""

    oof: npt.NDArray[np.float64]
    metrics: dict[str, Any]
    #: Each outer fold's fitted head (fold i held out the packages of `outer_splits(...)[i]`):
    #: what scores other data its packages' labels never reached (whole files, training/files.py).
    models: tuple[EduScoreHead, ...] = ()


def design_formats(x: Design) -> list[str]:
    """Each design row's format as the model detected it (from its leading signal columns)."""
    names = features.FEATURE_NAMES
    return [features.detected_language(dict(zip(names, row[:N_SIGNALS], strict=True))) for row in x]


def cross_validate(
    head: EduScoreHead,
    x: Design | Sequence[Design],
    data: LabelledSet,
    *,
    n_splits: int = 5,
    progress: bool = True,
) -> CVResult:
    """Fit a clone of `head` on each outer fold's training packages, score the held-out ones.

    Each fold runs the whole training procedure, inner calibration folds included: nothing is
    tuned on held-out packages. `x` is one design matrix, or one per fold (encoders tuned per
    fold, so that no encoder embeds packages whose labels it was tuned on).
    """
    oof = np.zeros(len(data), dtype=np.float64)
    folds, models = [], []
    splits = outer_splits(data.groups, n_splits)
    for i, (tr, te) in enumerate(tqdm(splits, desc="cv", unit="fold", disable=not progress)):
        xf = x if isinstance(x, np.ndarray) else x[i]
        fitted = clone(head).fit(xf[tr], data.labels[tr], groups=np.asarray(data.groups)[tr])
        oof[te] = fitted.predict(xf[te])
        models.append(fitted)
        fold = compute_metrics(data.labels[te], oof[te])
        fold.pop("confusion")
        fold["packages"] = sorted({data.groups[j] for j in te})
        fold["cut"] = fitted.calibration_.c
        folds.append({"fold": i, **fold})
    first = x if isinstance(x, np.ndarray) else x[0]
    metrics = compute_metrics(
        data.labels,
        oof,
        groups=data.groups,
        formats=design_formats(first),
        languages=[language_group(lang) for lang in data.languages],
    )
    metrics["per_fold"] = folds
    metrics["n_splits"] = n_splits
    metrics["group_by"] = "package"
    return CVResult(oof=oof, metrics=metrics, models=tuple(models))
