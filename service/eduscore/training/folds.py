"""Folds grouped by package: the service is judged on packages it never saw, so no package may
sit on both sides of a split (random splits leak near-duplicates and overstate quality)."""

from __future__ import annotations

from typing import Any

import numpy as np


def package_folds(groups: Any, n_splits: int) -> Any:
    """GroupKFold by package whenever there are two packages or more; with a single package
    (tiny data sets) plain shuffled folds are the only option."""
    from sklearn.model_selection import GroupKFold, KFold

    n_groups = len(set(np.asarray(groups).tolist()))
    if n_groups >= 2:
        return GroupKFold(n_splits=min(n_splits, n_groups))
    return KFold(n_splits=n_splits, shuffle=True, random_state=0)


def outer_splits(groups: Any, n_splits: int) -> list[tuple[Any, Any]]:
    """The outer cross-validation folds (deterministic for the same groups)."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(groups)
    blank = np.zeros(len(groups))
    return list(GroupKFold(n_splits=n_splits).split(blank, groups=groups))
