"""Fit and cross-validate classifier heads on [embedding | signals], folds grouped by package."""

from __future__ import annotations

import hashlib
import logging
import platform
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
from eduscore.scoring.embedding import Embedder
from eduscore.scoring.scorer import design_matrix
from eduscore.training.data import LabelledSet
from eduscore.training.evaluation import compute_metrics, headline

log = logging.getLogger(__name__)


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


def _hgb() -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=300,
        learning_rate=0.05,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        random_state=0,
    )


#: Candidate heads, by name. Each factory returns a fresh unfitted scikit-learn regressor.
HEADS: dict[str, Callable[[], Any]] = {"ridge": _ridge, "svr": _svr, "hgb": _hgb}
DEFAULT_HEAD = "hgb"


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
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> npt.NDArray[np.float32]:
    """The head's input for a labelled set, exactly as the Scorer builds it at serving time."""
    signals = [
        features.extract(c, lang) for c, lang in zip(data.codes, data.languages, strict=True)
    ]
    vectors = embed_texts(embedder, data.codes, cache_dir=cache_dir, progress=progress)
    return design_matrix(vectors, signals)


def cross_validate(
    x: npt.NDArray[np.float32],
    data: LabelledSet,
    head: str,
    *,
    n_splits: int = 5,
    progress: bool = True,
) -> tuple[npt.NDArray[np.float64], dict[str, Any]]:
    """Out-of-fold scores with GroupKFold by package, and their metrics (overall and per fold)."""
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(data), dtype=np.float64)
    folds = []
    splitter = GroupKFold(n_splits=n_splits)
    split = list(splitter.split(x, data.labels, groups=data.groups))
    for i, (tr, te) in enumerate(tqdm(split, desc=f"cv {head}", unit="fold", disable=not progress)):
        est = HEADS[head]().fit(x[tr], data.labels[tr])
        oof[te] = np.clip(est.predict(x[te]), 0.0, 5.0)
        fold = compute_metrics(data.labels[te], oof[te])
        fold.pop("confusion")
        fold["packages"] = sorted({data.groups[j] for j in te})
        folds.append({"fold": i, **fold})
    metrics = compute_metrics(data.labels, oof, groups=data.groups)
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
    progress: bool = True,
) -> dict[str, Any]:
    """Cross-validate `head` (and `compare` heads), fit it on all data, save with metadata."""
    if head not in HEADS:
        raise ValueError(f"head={head!r}: choose one of {sorted(HEADS)}")
    started = time.monotonic()
    embedder = Embedder(encoder)
    x = build_design(embedder, data, cache_dir=cache_dir, progress=progress)
    comparison = {}
    for name in dict.fromkeys((*compare, head)):
        oof_name, cv = cross_validate(x, data, name, n_splits=n_splits, progress=progress)
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
    estimator = HEADS[head]().fit(x, data.labels)
    version = model_version or f"{head}-{data.sha256[:8]}-{datetime.now(UTC):%Y%m%d}"
    metadata = {
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "head": {"name": head, "class": type(estimator).__name__, "params": repr(estimator)},
        "encoder": {
            "name": embedder.name,
            "dim": embedder.dim,
            "sha256": embedder.sha256,
            "max_seq_length": embedder.max_seq_length,
        },
        "feature_names": list(features.FEATURE_NAMES),
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
    model.save(out_dir, estimator, metadata)
    return {"metadata": metadata, "oof": oof}
