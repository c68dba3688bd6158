"""Fit and cross-validate classifier heads on [embedding | signals], folds grouped by package."""

from __future__ import annotations

import hashlib
import logging
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from eduscore import __version__
from eduscore.scoring import features, model
from eduscore.scoring.calibration import BoundaryCalibration
from eduscore.scoring.embedding import Embedder
from eduscore.scoring.model import TUNED_ENCODER_DIR
from eduscore.scoring.scorer import ESTIMATE, design_matrix
from eduscore.training.data import LabelledSet
from eduscore.training.evaluation import binary_scores, compute_metrics, headline
from eduscore.training.finetune import FinetuneConfig, finetune_encoder

log = logging.getLogger(__name__)


#: The design matrix is [signals | embedding] (scorer.design_matrix).
N_SIGNALS = len(features.FEATURE_NAMES)


def lead_columns(estimate_folds: int) -> int:
    """Signal columns before the embedding: the structural signals, plus the estimate if read."""
    return N_SIGNALS + (1 if estimate_folds else 0)


def _ridge() -> Any:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=30.0))


def _svr() -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    return make_pipeline(StandardScaler(), SVR(C=3.0, epsilon=0.2))


def _gbr(n_components: int | None, n_lead: int = N_SIGNALS) -> Any:
    """Gradient-boosted trees on the signals plus (optionally) a PCA of the embedding.

    Trees read the structural signals directly; PCA(16) keeps the embedding's main directions
    without letting 384 noisy columns dominate the splits (grouped-CV evidence in the card).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline

    parts: list[tuple[str, Any, Any]] = [("signals", "passthrough", slice(0, n_lead))]
    if n_components:
        parts.insert(
            0,
            (
                "embedding_pca",
                PCA(n_components=n_components, random_state=0),
                slice(n_lead, None),
            ),
        )
    trees = HistGradientBoostingRegressor(
        max_iter=300,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    )
    return Pipeline([("columns", ColumnTransformer(parts)), ("trees", trees)])


def _vote(n_lead: int = N_SIGNALS) -> Any:
    """The mean of the two tree heads' raw outputs, calibrated once: the embedding-free trees
    judge by structure alone, so their errors differ from the embedding head's, and averaging
    them costs no extra forward pass (evidence in EXPERIMENTS.md, session 3)."""
    from sklearn.ensemble import VotingRegressor

    return VotingRegressor([("pca16", _gbr(16, n_lead)), ("signals", _gbr(None, n_lead))])


#: Candidate heads, by name. Each factory returns a fresh unfitted scikit-learn regressor on
#: [signals | embedding] whose first `n_lead` columns are signals (the structural ones, and the
#: encoder's estimate when the model reads it); all are calibrated the same way
#: (see scoring/calibration.py).
HEADS: dict[str, Callable[[int], Any]] = {
    "ridge": lambda n_lead: _ridge(),
    "svr": lambda n_lead: _svr(),
    "gbr_signals": lambda n_lead: _gbr(None, n_lead),
    "gbr_pca16": lambda n_lead: _gbr(16, n_lead),
    "vote_pca16_signals": _vote,
}
DEFAULT_HEAD = "vote_pca16_signals"
#: Package folds over which a tuned encoder's own estimate is cross-fitted (0: the head does
#: not read it). Each costs one extra tuning on (k-1)/k of the training units. Off: with 2
#: folds the vote lost precision (0.807 -> 0.759) in grouped CV; only the signals-only trees
#: gained (EXPERIMENTS.md, session 6).
DEFAULT_ESTIMATE_FOLDS = 0
INNER_FOLDS = 4
CAL_EPS = 0.05
#: The format is detected from the text: hints did not help in grouped CV (EXPERIMENTS.md).
USES_LANGUAGE_HINT = False
#: Keep-worthy shares at the borderline band's edges (scores 2.5 and 3.5).
BAND_SHARES = (0.25, 0.75)


def best_cut(raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]) -> float:
    """The cut on raw output that maximises F1 of raw >= cut vs label >= 3 (ties: nearest 3)."""
    truth = labels >= 3.0
    best, cut = -1.0, 3.0
    for t in np.unique(np.round(raw, 3)):
        if not 1.0 <= t <= 4.5:
            continue
        f1 = binary_scores(truth, raw >= t)["f1_keep"]
        if f1 > best + 1e-9 or (abs(f1 - best) <= 1e-9 and abs(t - 3.0) < abs(cut - 3.0)):
            best, cut = f1, float(t)
    return cut


def fit_calibration(
    raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]
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
    band_lo, band_hi = borderline_band(raw, labels, c)
    return BoundaryCalibration(
        c=c,
        eps=CAL_EPS,
        lo_x=lo.X_thresholds_.tolist(),
        lo_y=lo.y_thresholds_.tolist(),
        hi_x=hi.X_thresholds_.tolist(),
        hi_y=hi.y_thresholds_.tolist(),
        band_lo=band_lo,
        band_hi=band_hi,
    )


def borderline_band(
    raw: npt.NDArray[np.float64], labels: npt.NDArray[np.float64], c: float
) -> tuple[float, float]:
    """Raw outputs where the share of keep-worthy units (isotonic in raw) rises from BAND_SHARES[0]
    to BAND_SHARES[1]: the units a stricter or looser threshold should move (calibration.py)."""
    from sklearn.isotonic import IsotonicRegression

    share = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    share.fit(raw, (labels >= 3.0).astype(np.float64))
    xs, ps = share.X_thresholds_, share.y_thresholds_
    # First raw output whose share reaches q (the shares rise with raw); past the end, the last.
    lo, hi = (float(xs[min(np.searchsorted(ps, q), len(xs) - 1)]) for q in BAND_SHARES)
    step = 1e-3  # the band always straddles the cut, however the shares fall
    return round(min(lo, c - step), 4), round(max(hi, c + step), 4)


def _package_folds(groups: Any, n_splits: int) -> Any:
    """Folds grouped by package whenever there are two packages or more; with a single package
    (tiny data sets) plain folds are the only option."""
    from sklearn.model_selection import GroupKFold, KFold

    n_groups = len(set(groups))
    if n_groups >= 2:
        return GroupKFold(n_splits=min(n_splits, n_groups))
    return KFold(n_splits=n_splits, shuffle=True, random_state=0)


def fit_calibrated(
    x: npt.NDArray[np.float32],
    labels: npt.NDArray[np.float64],
    groups: list[str],
    head: str,
    n_lead: int = N_SIGNALS,
) -> tuple[Any, BoundaryCalibration]:
    """The training procedure: calibration from grouped out-of-fold raw output, head on all."""
    splitter = _package_folds(groups, INNER_FOLDS)
    raw = np.zeros(len(labels))
    for tr, te in splitter.split(x, labels, groups=groups):
        raw[te] = HEADS[head](n_lead).fit(x[tr], labels[tr]).predict(x[te])
    return HEADS[head](n_lead).fit(x, labels), fit_calibration(raw, labels)


def embed_texts(
    embedder: Embedder,
    codes: list[str],
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> npt.NDArray[np.float32]:
    """Embeddings of `codes`, cached on disk by (encoder weights, texts) so reruns are instant."""
    key = hashlib.sha256(embedder.sha256.encode())
    for code in codes:
        key.update(hashlib.sha256(code.encode("utf-8", "surrogatepass")).digest())
    cache = Path(cache_dir) / f"emb-{key.hexdigest()[:24]}.npy" if cache_dir else None
    if cache is not None and cache.is_file():
        return np.load(cache, allow_pickle=False)
    step = 64
    parts = []
    for start in tqdm(
        range(0, len(codes), step), desc="embedding", unit="batch", disable=not progress
    ):
        parts.append(embedder.encode(codes[start : start + step]).vectors)
    vectors = np.vstack(parts) if parts else np.zeros((0, embedder.dim), np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors, allow_pickle=False)
    return vectors


def build_design(
    embedder: Embedder,
    data: LabelledSet,
    *,
    honest: tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> npt.NDArray[np.float32]:
    """The head's input for a labelled set, exactly as the Scorer builds it at serving time:
    without the data's language hints unless the recipe uses them (the Scorer reads the model's
    `uses_language_hint`; training with hints it then ignores would skew ~1 % of the corpus).

    With `honest` = (index, estimates), the design carries the encoder's own estimate too:
    `embedder`'s for every unit, except the units at `index` (the ones it was tuned on, whose
    estimate it has memorised), which get the given cross-fitted estimates instead.
    """
    signals = [
        features.extract(c, lang if USES_LANGUAGE_HINT else "")
        for c, lang in zip(data.codes, data.languages, strict=True)
    ]
    vectors = embed_texts(embedder, data.codes, cache_dir=cache_dir, progress=progress)
    estimate = None
    if honest is not None:
        estimate = embedder.estimate(vectors)
        estimate[honest[0]] = honest[1]
    return design_matrix(vectors, signals, estimate)


def cross_fitted_estimate(
    base: Embedder,
    data: LabelledSet,
    index: npt.NDArray[np.intp],
    cfg: FinetuneConfig,
    *,
    folds: int,
    cache_dir: str | Path,
    progress: bool = True,
) -> npt.NDArray[np.float32]:
    """The tuned encoder's estimate of each unit at `index`, from an encoder tuned on the other
    packages at `index` only (GroupKFold by package into `folds`).

    Why: the encoder that embeds the training units was tuned on their labels, so its own
    estimate of them is nearly the label itself; trees fitted on that would trust it far more
    than it deserves on a new package. Cross-fitted, the training units' estimates are as
    honest as the estimate a served snippet gets (stacking, as in Wolpert 1992).
    """
    index = np.asarray(index)
    groups = np.asarray(data.groups)[index]
    out = np.empty(len(index), np.float32)
    for part, held in _package_folds(groups, folds).split(index, groups=groups):
        enc = tuned_encoder(base, data, index[part], cfg, cache_dir=cache_dir, progress=progress)
        vectors = embed_texts(
            enc, [data.codes[j] for j in index[held]], cache_dir=cache_dir, progress=progress
        )
        out[held] = enc.estimate(vectors)
    return out


def design_formats(x: npt.NDArray[np.float32]) -> list[str]:
    """Each design row's format as the model detected it (from its leading signal columns)."""
    names = features.FEATURE_NAMES
    return [features.detected_language(dict(zip(names, row[:N_SIGNALS], strict=True))) for row in x]


def outer_splits(data: LabelledSet, n_splits: int) -> list[tuple[Any, Any]]:
    """The outer cross-validation folds: GroupKFold by package (deterministic)."""
    from sklearn.model_selection import GroupKFold

    blank = np.zeros(len(data))
    return list(GroupKFold(n_splits=n_splits).split(blank, data.labels, groups=data.groups))


def tuned_designs(
    embedder: Embedder,
    data: LabelledSet,
    cfg: FinetuneConfig,
    *,
    n_splits: int,
    cache_dir: str | Path,
    estimate_folds: int = 0,
    progress: bool = True,
) -> list[npt.NDArray[np.float32]]:
    """One design matrix per outer fold, from an encoder tuned on that fold's training packages
    only: the held-out packages' labels never reach the encoder that embeds them. With
    `estimate_folds`, the encoder's own estimate is a column too, cross-fitted on the training
    packages (cross_fitted_estimate) and the fold encoder's own on the held-out ones."""
    designs = []
    for tr, _ in outer_splits(data, n_splits):
        honest = None
        if estimate_folds:
            values = cross_fitted_estimate(
                embedder,
                data,
                tr,
                cfg,
                folds=estimate_folds,
                cache_dir=cache_dir,
                progress=progress,
            )
            honest = (tr, values)
        encoder = tuned_encoder(embedder, data, tr, cfg, cache_dir=cache_dir, progress=progress)
        designs.append(
            build_design(encoder, data, honest=honest, cache_dir=cache_dir, progress=progress)
        )
    return designs


def tuned_encoder(
    base: Embedder,
    data: LabelledSet,
    index: Any,
    cfg: FinetuneConfig,
    *,
    cache_dir: str | Path,
    progress: bool = True,
) -> Embedder:
    """`base` tuned on the units at `index` (cached by run key), loaded for embedding."""
    path = finetune_encoder(
        base.path,
        base.sha256,
        [data.codes[j] for j in index],
        data.labels[index],
        cache_dir,
        cfg,
        progress=progress,
        desc=f"tune on {len(index)} units",
    )
    return Embedder(str(path))


def cross_validate(
    x: npt.NDArray[np.float32] | list[npt.NDArray[np.float32]],
    data: LabelledSet,
    head: str,
    *,
    n_splits: int = 5,
    n_lead: int = N_SIGNALS,
    progress: bool = True,
) -> tuple[npt.NDArray[np.float64], dict[str, Any]]:
    """Out-of-fold scores with GroupKFold by package, and their metrics (overall and per fold).

    Each outer fold runs the whole training procedure on its training packages only, including
    the inner grouped folds that fit the calibration: nothing is tuned on held-out packages.
    `x` is one design matrix, or one per fold (from encoders tuned per fold).
    """
    oof = np.zeros(len(data), dtype=np.float64)
    folds = []
    split = outer_splits(data, n_splits)
    for i, (tr, te) in enumerate(tqdm(split, desc=f"cv {head}", unit="fold", disable=not progress)):
        xf = x[i] if isinstance(x, list) else x
        groups = [data.groups[j] for j in tr]
        est, cal = fit_calibrated(xf[tr], data.labels[tr], groups, head, n_lead)
        oof[te] = cal.apply(est.predict(xf[te]))
        fold = compute_metrics(data.labels[te], oof[te])
        fold.pop("confusion")
        fold["packages"] = sorted({data.groups[j] for j in te})
        fold["cut"] = cal.c
        folds.append({"fold": i, **fold})
    first = x[0] if isinstance(x, list) else x
    metrics = compute_metrics(data.labels, oof, groups=data.groups, formats=design_formats(first))
    metrics["per_fold"] = folds
    metrics["n_splits"] = n_splits
    metrics["group_by"] = "package"
    return oof, metrics


def _versions() -> dict[str, str]:
    import sentence_transformers
    import sklearn
    import skops
    import torch

    return {
        "eduscore": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "sentence-transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
    }


def train(
    data: LabelledSet,
    out_dir: str | Path,
    *,
    encoder: str = "",
    head: str = DEFAULT_HEAD,
    compare: tuple[str, ...] = (),
    n_splits: int = 5,
    cache_dir: str | Path | None = None,
    model_version: str = "",
    finetune: FinetuneConfig | None = None,
    estimate_folds: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Cross-validate `head` (and `compare` heads), fit it on all data, save with metadata.

    With `finetune`, the encoder is tuned too: per outer fold on that fold's training packages
    (for honest CV), then on all data, saved as `encoder/` inside the model directory. With
    `estimate_folds` as well, the head also reads the tuned encoder's own estimate, cross-fitted
    over that many package folds wherever the encoder saw the labels (cross_fitted_estimate).
    """
    if head not in HEADS:
        raise ValueError(f"head={head!r}: choose one of {sorted(HEADS)}")
    if estimate_folds and finetune is None:
        raise ValueError("estimate_folds needs finetune: only a tuned encoder has an estimate")
    if estimate_folds == 1 or estimate_folds < 0:
        raise ValueError(f"estimate_folds={estimate_folds}: 0 (off) or at least 2")
    n_lead = lead_columns(estimate_folds)
    started = time.monotonic()
    base = Embedder(encoder)
    with tempfile.TemporaryDirectory(prefix="eduscore-train-") as scratch:
        work = cache_dir or scratch
        tuned_dir = Path(out_dir) / TUNED_ENCODER_DIR
        shutil.rmtree(tuned_dir, ignore_errors=True)  # never leave a stale one beside a new head
        if finetune is None:
            embedder, x_cv = base, build_design(base, data, cache_dir=work, progress=progress)
            x = x_cv
        else:
            x_cv = tuned_designs(
                base,
                data,
                finetune,
                n_splits=n_splits,
                cache_dir=work,
                estimate_folds=estimate_folds,
                progress=progress,
            )
            everything = np.arange(len(data))
            honest = None
            if estimate_folds:
                values = cross_fitted_estimate(
                    base,
                    data,
                    everything,
                    finetune,
                    folds=estimate_folds,
                    cache_dir=work,
                    progress=progress,
                )
                honest = (everything, values)
            embedder = tuned_encoder(
                base, data, everything, finetune, cache_dir=work, progress=progress
            )
            x = build_design(embedder, data, honest=honest, cache_dir=work, progress=progress)
            shutil.copytree(embedder.path, tuned_dir)
    comparison = {}
    for name in dict.fromkeys((*compare, head)):
        oof_name, cv = cross_validate(
            x_cv, data, name, n_splits=n_splits, n_lead=n_lead, progress=progress
        )
        comparison[name] = {
            k: cv[k]
            for k in (
                "f1_keep",
                "precision_keep",
                "recall_keep",
                "spearman",
                "mae",
                "min_package_f1",
            )
        }
        log.info("cv %s: %s", name, headline(cv))
        if name == head:
            chosen_cv, oof = cv, oof_name
    estimator, calibration = fit_calibrated(x, data.labels, data.groups, head, n_lead)
    version = model_version or f"{head}-{data.sha256[:8]}-{datetime.now(UTC):%Y%m%d}"
    metadata = {
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "head": {"name": head, "class": type(estimator).__name__, "params": repr(estimator)},
        "encoder": {
            "name": embedder.name if finetune is None else f"{Path(base.name).name}-eduscore-tuned",
            "dim": embedder.dim,
            "sha256": embedder.sha256,
            "max_seq_length": embedder.max_seq_length,
            **(
                {
                    "path": TUNED_ENCODER_DIR,
                    "base": {"name": base.name, "sha256": base.sha256},
                    "finetune": finetune.as_dict(),
                }
                if finetune is not None
                else {}
            ),
        },
        "feature_names": list(features.FEATURE_NAMES),
        "uses_language_hint": USES_LANGUAGE_HINT,
        **(
            {ESTIMATE: {"signal": ESTIMATE, "cross_fit_folds": estimate_folds}}
            if estimate_folds
            else {}
        ),
        "calibration": {
            "method": "boundary-pinned isotonic",
            "cut": calibration.c,
            "band": [calibration.band_lo, calibration.band_hi],
            "inner_folds": INNER_FOLDS,
        },
        "default_threshold": 3.0,
        "label_scale": [0, 5],
        "training_data": {
            "path": Path(data.path).name,
            "sha256": data.sha256,
            "n_units": len(data),
            "n_groups": len(set(data.groups)),
            "label_counts": data.label_counts(),
        },
        "cv": chosen_cv,
        "comparison": comparison,
        "versions": _versions(),
        "train_seconds": round(time.monotonic() - started, 1),
    }
    model.save(out_dir, estimator, metadata, calibration)
    return {"metadata": metadata, "oof": oof}
