"""The fast tier: a static table distilled from the full tier's encoder, its own head trained in
the same grouped CV, and the cascade band fitted on both tiers' out-of-fold scores.

Written as `fast/` inside the model directory (a complete model directory of its own), so the
fast tier loads with the same checks as the full one and without torch.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.scoring.static import MAX_TOKENS, StaticEmbedder
from eduscore.scoring.tiers import CASCADE, FAST, FAST_DIR, FULL, STATIC_DIR, design_matrix
from eduscore.training import artifacts, cascade
from eduscore.training.cv import cross_validate
from eduscore.training.data import LabelledSet
from eduscore.training.evaluation import compute_metrics, headline
from eduscore.training.heads import EduScoreHead, calibration_record
from eduscore.training.stacked import StackedSignal, with_column

log = logging.getLogger(__name__)

#: Width of the static table. 256 beat 64 in grouped CV (EXPERIMENTS.md, session 9); the head
#: reads a 16-component PCA of it either way, so more width only costs disk.
PCA_DIMS = 256
HEADLINE = ("f1_keep", "precision_keep", "recall_keep", "spearman", "mae")
#: Share of out-of-fold keep decisions in which the cascade may differ from the full tier: 1 in
#: 200. On the shipped folds the tiers differ on 2.5 %; 0.005 sends 6 % of the corpus to the
#: encoder, 0 sends 21 % (EXPERIMENTS.md, session 10).
CASCADE_TOLERANCE = 0.005


def _record(base_sha256: str) -> dict[str, Any]:
    return {"base_sha256": base_sha256, "pca_dims": PCA_DIMS, "method": "model2vec.distill"}


def distill_static(
    base_path: str, base_sha256: str, out: Path, *, reuse: list[Path] | None = None
) -> Path:
    """The static table of `base_path` at `out`: copied from the first of `reuse` distilled from
    the same weights with the same recipe (so a retrain adds no new table to git), else
    distilled with model2vec (~40 s on 2 cores)."""
    want = _record(base_sha256)
    for candidate in reuse or []:
        stamp = candidate / "distilled.json"
        if stamp.is_file() and json.loads(stamp.read_text()) == want:
            shutil.copytree(candidate, out)
            return out
    from model2vec.distill import distill

    model = distill(model_name=base_path, pca_dims=PCA_DIMS)
    model.save_pretrained(str(out))
    config = json.loads((out / "config.json").read_text())
    config["tokenizer_name"] = Path(base_path).name  # not this machine's path
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "README.md").unlink(missing_ok=True)  # the model card says what it is
    (out / "distilled.json").write_text(json.dumps(want, indent=2) + "\n")
    for file in out.iterdir():  # safetensors writes 0600; the serving user must read it
        file.chmod(0o644)
    return out


@dataclass(frozen=True, slots=True)
class FastTier:
    """What training the fast tier gives back: the `tiers` record of the full model's metadata,
    its static encoder and each outer fold's head (for scoring whole files out of fold)."""

    record: dict[str, Any]
    embedder: StaticEmbedder
    fold_heads: tuple[EduScoreHead, ...]


def static_design(
    embedder: StaticEmbedder, data: LabelledSet, signals: list[dict[str, float]]
) -> npt.NDArray[np.float32]:
    vectors = [embedder.encode(data.codes[i : i + 512]).vectors for i in range(0, len(data), 512)]
    return design_matrix(np.vstack(vectors), signals)


def train_fast(
    data: LabelledSet,
    signals: list[dict[str, float]],
    stage: Path,
    *,
    base: Any,
    full_meta: dict[str, Any],
    full_oof: npt.NDArray[np.float64],
    cache_dir: str | Path,
    previous: str | Path | None = None,
    n_splits: int = 5,
    stacked: StackedSignal | None = None,
    progress: bool = True,
) -> FastTier:
    """Write `stage/fast/` and return the `tiers` record for the full model's metadata.

    `previous` (the model directory being replaced) lends its static table when it was
    distilled from the same encoder, so an unchanged table is committed byte-identical.
    """
    fast_dir = stage / FAST_DIR
    fast_dir.mkdir()
    cached = Path(cache_dir) / f"static-{base.sha256[:16]}"
    reuse = [cached] + ([Path(previous) / FAST_DIR / STATIC_DIR] if previous else [])
    static_path = distill_static(base.path, base.sha256, fast_dir / STATIC_DIR, reuse=reuse)
    if not cached.exists():
        shutil.copytree(static_path, cached)
    name = f"model2vec({base.name})"
    embedder = StaticEmbedder(str(static_path), name=name)
    x = static_design(embedder, data, signals)
    x_cv: Any = x
    if stacked is not None:  # the same cross-fitted column as the full tier's
        x_cv, x = stacked.designs(x), with_column(x, stacked.final)
    head = EduScoreHead(n_signals=len(full_meta["feature_names"]))
    result = cross_validate(head, x_cv, data, n_splits=n_splits, progress=progress)
    log.info("fast tier cv: %s", headline(result.metrics))
    fitted = head.fit(x, data.labels, groups=np.asarray(data.groups))
    meta = {
        **full_meta,
        "model_version": f"{full_meta['model_version']}-fast",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "head": {**full_meta["head"], "params": fitted.get_params()},
        "calibration": calibration_record(fitted),
        "encoder": {
            "name": name,
            "kind": "static",
            "dim": embedder.dim,
            "sha256": embedder.sha256,
            "max_seq_length": MAX_TOKENS,
            "path": STATIC_DIR,
            "distilled_from": _record(base.sha256),
        },
        "cv": result.metrics,
    }
    meta.pop("tiers", None)
    artifacts.save_head(fast_dir, fitted, meta)
    artifacts.save_oof(fast_dir, data.ids, result.oof)
    record = tiers_record(
        full_meta["cv"], result.metrics, full_oof, result.oof, data.labels, groups=data.groups
    )
    return FastTier(record, embedder, result.models)


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: round(float(metrics[k]), 4) for k in HEADLINE if k in metrics}


def tiers_record(
    full_cv: dict[str, Any],
    fast_cv: dict[str, Any],
    full_oof: npt.NDArray[np.float64],
    fast_oof: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float64],
    groups: list[str] | None = None,
) -> dict[str, Any]:
    """Each tier's headline CV metrics, and the cascade bands with what they escalate.

    A band is the narrowest whose out-of-fold keep decisions differ from the full tier's on at
    most CASCADE_TOLERANCE of the rows: the cascade is "the full model's judgement for less".
    `band` is the one of the default keep line (3.0); `bands` one per keep line, of which the
    server applies the request threshold's (training/cascade.py `bands_record`); `groups` (each
    row's package) checks them on packages they were not fitted on.
    """
    band = cascade.fit_band(fast_oof, full_oof, tolerance=CASCADE_TOLERANCE)
    mixed, share = cascade.cascade_scores(fast_oof, full_oof, band)
    return {
        FULL: {"cv": _headline(full_cv)},
        FAST: {
            "path": FAST_DIR,
            "cv": _headline(fast_cv),
            "per_language": fast_cv.get("per_language", {}),
        },
        CASCADE: {
            "band": [float(band[0]), float(band[1])],
            "escalated_share": round(share, 4),
            "cv": _headline(compute_metrics(labels, mixed)),
            "fitted_on": "out-of-fold scores of both tiers (same grouped folds)",
            "tolerance": CASCADE_TOLERANCE,
            "criterion": "share of keep decisions that differ from the full tier's",
            "disagreement": round(cascade.disagreement(mixed, full_oof), 4),
            **cascade.bands_record(fast_oof, full_oof, tolerance=CASCADE_TOLERANCE, groups=groups),
        },
    }
