"""The classifier head as a scikit-learn estimator: trees on [signals | embedding], calibrated.

`EduScoreHead.fit` runs the whole training procedure (inner grouped folds give out-of-fold raw
outputs, the calibration is fitted on them, the trees on everything), so cross-validation
clones and fits it like any estimator. What is saved is plain scikit-learn (`estimator_`, via
skops, and compiled to arrays by compile.py) and plain arrays (`calibration_`, JSON):
artifacts.py writes them, scoring/model.py reads the arrays; no eduscore class is ever
deserialised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin

from eduscore.scoring import features
from eduscore.scoring.calibration import BoundaryCalibration
from eduscore.scoring.model import LABEL_MAX, LABEL_MIN
from eduscore.training.evaluation import KEEP_AT, binary_scores
from eduscore.training.folds import package_folds

#: The design matrix is [signals | embedding] (scorer.design_matrix).
N_SIGNALS = len(features.FEATURE_NAMES)
#: Keep-worthy shares at the borderline range's edges (scores 2.5 and 3.5).
BORDERLINE_SHARES = (0.25, 0.75)


class EduScoreHead(RegressorMixin, BaseEstimator):
    """Gradient-boosted trees on the signals plus a PCA of the embedding, averaged with trees on
    the signals alone, then calibrated so that the keep line sits at 3.0.

    The embedding-free trees judge by structure alone, so their errors differ from the
    embedding head's and averaging them costs no extra forward pass; PCA keeps the embedding's
    main directions without letting 384 noisy columns dominate the splits.
    """

    def __init__(
        self,
        *,
        n_signals: int = N_SIGNALS,
        n_components: int = 16,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        inner_folds: int = 4,
        cal_eps: float = 0.05,
    ) -> None:
        self.n_signals = n_signals
        self.n_components = n_components
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.inner_folds = inner_folds
        self.cal_eps = cal_eps

    def _trees(self, n_components: int) -> Any:
        """Trees on the signals and, if `n_components`, a PCA of the embedding."""
        from sklearn.compose import ColumnTransformer
        from sklearn.decomposition import PCA
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.pipeline import Pipeline

        parts: list[tuple[str, Any, Any]] = [("signals", "passthrough", slice(0, self.n_signals))]
        if n_components:
            pca = PCA(n_components=n_components, random_state=0)
            parts.insert(0, ("embedding_pca", pca, slice(self.n_signals, None)))
        trees = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=0,
        )
        return Pipeline([("columns", ColumnTransformer(parts)), ("trees", trees)])

    def _regressor(self) -> Any:
        """The unfitted regressor: the PCA trees averaged with the signals-only trees."""
        from sklearn.ensemble import VotingRegressor

        if not self.n_components:
            return self._trees(0)
        return VotingRegressor(
            [("pca", self._trees(self.n_components)), ("signals", self._trees(0))]
        )

    def fit(
        self, x: npt.NDArray[np.float32], y: npt.NDArray[np.float64], groups: Any = None
    ) -> EduScoreHead:
        """Calibration from grouped out-of-fold raw output (never from rows the trees saw),
        then the trees on all rows. `groups` (packages) keep a package inside one inner fold."""
        y = np.asarray(y, dtype=np.float64)
        groups = np.zeros(len(y)) if groups is None else np.asarray(groups)
        raw = np.zeros(len(y))
        for tr, te in package_folds(groups, self.inner_folds).split(x, y, groups=groups):
            raw[te] = self._regressor().fit(x[tr], y[tr]).predict(x[te])
        self.calibration_ = fit_calibration(raw, y, self.cal_eps)
        self.estimator_ = self._regressor().fit(x, y)
        self.n_features_in_ = x.shape[1]
        return self

    def predict_raw(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.asarray(self.estimator_.predict(x), dtype=np.float64)

    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Scores on the 0-5 scale, exactly as the served model computes them (model.Head)."""
        return np.clip(self.calibration_.apply(self.predict_raw(x)), LABEL_MIN, LABEL_MAX)


def best_cut(raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]) -> float:
    """The cut on raw output that maximises F1 of raw >= cut vs label >= 3 (ties: nearest 3)."""
    truth = labels >= KEEP_AT
    best, cut = -1.0, 3.0
    for t in np.unique(np.round(raw, 3)):
        if not 1.0 <= t <= 4.5:
            continue
        f1 = binary_scores(truth, raw >= t)["f1_keep"]
        if f1 > best + 1e-9 or (abs(f1 - best) <= 1e-9 and abs(t - 3.0) < abs(cut - 3.0)):
            best, cut = f1, float(t)
    return cut


def fit_calibration(
    raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64], eps: float = 0.05
) -> BoundaryCalibration:
    """Pin the keep line at the best cut; isotonic curves below ([0, 2.99]) and above ([3, 5])."""
    from sklearn.isotonic import IsotonicRegression

    c = best_cut(raw, labels)
    below, above = raw < c, raw >= c
    lo = IsotonicRegression(y_min=0.0, y_max=2.99, out_of_bounds="clip").fit(
        np.r_[raw[below], c], np.r_[labels[below], 2.99]
    )
    hi = IsotonicRegression(y_min=3.0, y_max=5.0, out_of_bounds="clip").fit(
        np.r_[c, raw[above]], np.r_[3.0, labels[above]]
    )
    borderline_lo, borderline_hi = borderline_range(raw, labels, c)
    return BoundaryCalibration(
        c=c,
        eps=eps,
        lo_x=lo.X_thresholds_.tolist(),
        lo_y=lo.y_thresholds_.tolist(),
        hi_x=hi.X_thresholds_.tolist(),
        hi_y=hi.y_thresholds_.tolist(),
        borderline_lo=borderline_lo,
        borderline_hi=borderline_hi,
    )


def borderline_range(
    raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64], c: float
) -> tuple[float, float]:
    """Raw outputs where the share of keep-worthy units (isotonic in raw) rises from
    BORDERLINE_SHARES[0] to BORDERLINE_SHARES[1]: the units a stricter or looser threshold should
    move (calibration.py)."""
    from sklearn.isotonic import IsotonicRegression

    share = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    share.fit(raw, (labels >= KEEP_AT).astype(np.float64))
    xs, ps = share.X_thresholds_, share.y_thresholds_
    # First raw output whose share reaches q (the shares rise with raw); past the end, the last.
    lo, hi = (float(xs[min(np.searchsorted(ps, q), len(xs) - 1)]) for q in BORDERLINE_SHARES)
    step = 1e-3  # the range always straddles the cut, however the shares fall
    return round(min(lo, c - step), 4), round(max(hi, c + step), 4)


def calibration_record(head: EduScoreHead) -> dict[str, Any]:
    """The fitted head's own calibration, as the card reads it (each tier records its own)."""
    cal = head.calibration_
    return {
        "method": "boundary-pinned isotonic",
        "cut": cal.c,
        "borderline": [cal.borderline_lo, cal.borderline_hi],
        "inner_folds": head.inner_folds,
    }
