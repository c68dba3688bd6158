"""`eduscore train`: grouped CV of the recipe, then the head fitted on all data, saved with
metadata, card and report; the previous model is replaced only when all of it is written."""

from __future__ import annotations

import json
import logging
import platform
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore import __version__
from eduscore.scoring.embedding import Embedder
from eduscore.scoring.features import language_id
from eduscore.scoring.model import TUNED_ENCODER_DIR
from eduscore.scoring.tiers import FAST, FAST_DIR, FULL, signal_names
from eduscore.training import artifacts, card
from eduscore.training.card_sections import detection_record
from eduscore.training.cv import cross_validate
from eduscore.training.data import LabelledSet
from eduscore.training.designs import build_design, signals_of, tuned_designs, tuned_encoder
from eduscore.training.evaluation import headline, write_report
from eduscore.training.fast import train_fast
from eduscore.training.finetune import FinetuneConfig, half_precision_copy
from eduscore.training.folds import outer_splits
from eduscore.training.heads import EduScoreHead, calibration_record
from eduscore.training.stacked import lexical_signal, with_column

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a training run produced: where, its metadata, its out-of-fold scores."""

    model_dir: Path
    metadata: dict[str, Any]
    oof: npt.NDArray[np.float64]

    @property
    def cv(self) -> dict[str, Any]:
        return dict(self.metadata["cv"])


def _versions() -> dict[str, str]:
    import model2vec
    import sentence_transformers
    import sklearn
    import skops
    import torch
    import tree_sitter

    return {
        "eduscore": __version__,
        "model2vec": model2vec.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "sentence-transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "tree-sitter": getattr(tree_sitter, "__version__", "?"),
    }


def _encoder_record(
    embedder: Embedder, base: Embedder, finetune: FinetuneConfig | None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": embedder.name if finetune is None else f"{Path(base.name).name}-eduscore-tuned",
        "dim": embedder.dim,
        "sha256": embedder.sha256,
        "max_seq_length": embedder.max_seq_length,
    }
    if finetune is not None:
        record.update(
            path=TUNED_ENCODER_DIR,
            base={"name": base.name, "sha256": base.sha256},
            finetune=finetune.as_dict(),
        )
    return record


def _metadata(
    data: LabelledSet,
    head: EduScoreHead,
    encoder: dict[str, Any],
    cv: dict[str, Any],
    version: str,
    seconds: float,
) -> dict[str, Any]:
    detector = language_id.shipped()
    return {
        "model_version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "head": {
            "name": type(head).__name__,
            "class": type(head.estimator_).__name__,
            "params": head.get_params(),
        },
        "encoder": encoder,
        "language_hint": "the unit's language, as a request's hint (taken where the text allows)",
        "language_detector": {
            **(detector.metadata if detector else {}),
            "sha256": language_id.shipped_sha256(),
        },
        "calibration": calibration_record(head),
        "default_threshold": 3.0,
        "label_scale": [0, 5],
        "training_data": {
            "path": Path(data.path).name,
            "sha256": data.sha256,
            "n_units": len(data),
            "n_groups": len(set(data.groups)),
            "label_counts": data.label_counts(),
        },
        "cv": cv,
        "versions": _versions(),
        "train_seconds": round(seconds, 1),
    }


def _default_version(data: LabelledSet, finetune: FinetuneConfig | None) -> str:
    """A tuned model must not share a name with the frozen one of the same day: resumed filter
    jobs and clients' caches tell models apart by this name."""
    tuned = "-tuned" if finetune is not None else ""
    return f"edu-{data.sha256[:8]}-{datetime.now(UTC):%Y%m%d}{tuned}"


def _designs(
    base: Embedder,
    data: LabelledSet,
    signals: list[dict[str, float]],
    finetune: FinetuneConfig | None,
    *,
    n_splits: int,
    work: str | Path,
    stage: Path,
    progress: bool,
) -> tuple[Embedder, Any, Any]:
    """The final encoder, the design to fit the head on, and the design(s) to cross-validate:
    one frozen design, or (tuning) one per outer fold and the tuned encoder copied into
    `stage`."""
    if finetune is None:
        x = build_design(base, data, signals=signals, cache_dir=work, progress=progress)
        return base, x, x
    x_cv = tuned_designs(
        base, data, finetune, n_splits=n_splits, cache_dir=work, signals=signals,
        progress=progress,
    )  # fmt: skip
    tuned = tuned_encoder(base, data, np.arange(len(data)), finetune, cache_dir=work)
    # The head is fitted on embeddings from the fp16 copy that ships, not the fp32 original.
    embedder = Embedder(str(half_precision_copy(tuned.path, stage / TUNED_ENCODER_DIR)))
    x = build_design(embedder, data, signals=signals, cache_dir=work, progress=progress)
    return embedder, x, x_cv


def _fold_embedders(
    base: Embedder, data: LabelledSet, finetune: FinetuneConfig | None, n_splits: int, work: Any
) -> list[Embedder]:
    """The encoder each outer fold's head was trained on: the base, or the fold's tuned one."""
    if finetune is None:
        return [base] * n_splits
    splits = outer_splits(data.groups, n_splits)
    return [tuned_encoder(base, data, tr, finetune, cache_dir=work) for tr, _ in splits]


def _train_files(
    files: LabelledSet,
    data: LabelledSet,
    folds: tuple[Any, Any, Any, list[Embedder]],
    names: list[str],
    stage: Path,
    n_splits: int,
) -> dict[str, Any]:
    """Both tiers' file models saved in `stage` (and `stage/fast`); their CV record. `folds`:
    what each outer fold trained (full-tier CV, fast tier, stacked signal, fold encoders)."""
    from eduscore.training import files as file_training

    full_cv, fast_tier, stacked, embedders = folds
    scorers = file_training.fold_scorers(
        embedders, full_cv.models, fast_tier.embedder, fast_tier.fold_heads,
        stacked.fold_models if stacked is not None else (), names,
    )  # fmt: skip
    models, record = file_training.train_files(files, data, scorers, n_splits)
    models[FULL].save(stage)
    models[FAST].save(stage / FAST_DIR)
    scored = record.pop("scored")
    (stage / "files_oof.json").write_text(json.dumps(scored, separators=(",", ":")) + "\n")
    for tier in (FULL, FAST):
        record[tier].pop("oof", None)
    return record


def _fast_and_files(
    meta: dict[str, Any],
    data: LabelledSet,
    signals: list[dict[str, float]],
    stage: Path,
    base: Embedder,
    result: Any,
    stacked: Any,
    files: LabelledSet | None,
    finetune: FinetuneConfig | None,
    run: dict[str, Any],
) -> None:
    """The fast tier in `stage/fast` and, with `files`, both tiers' file models; their records
    into `meta` (`run`: the cache dir, the model being replaced, folds, progress)."""
    n_splits = run["n_splits"]
    fast_tier = train_fast(
        data, signals, stage, base=base, full_meta=meta, full_oof=result.oof,
        cache_dir=run["work"], previous=run["out_dir"], n_splits=n_splits, stacked=stacked,
        progress=run["progress"],
    )  # fmt: skip
    meta["tiers"] = fast_tier.record
    if files is not None:
        embedders = _fold_embedders(base, data, finetune, n_splits, run["work"])
        folds = (result, fast_tier, stacked, embedders)
        meta["files"] = _train_files(files, data, folds, meta["feature_names"], stage, n_splits)


def train(
    data: LabelledSet,
    out_dir: str | Path,
    *,
    encoder: str = "",
    head: EduScoreHead | None = None,
    n_splits: int = 5,
    cache_dir: str | Path | None = None,
    model_version: str = "",
    finetune: FinetuneConfig | None = None,
    fast: bool = True,
    lexical: bool = True,
    files: LabelledSet | None = None,
    pool: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Cross-validate `head` (default: the recipe's), fit it on all data, write the model.

    `fast`: the fast tier, distilled from the untuned `base` (a tuned one would leak labels into
    its CV), in the same folds; the cascade band from both tiers' out-of-fold scores. `lexical`:
    a cross-fitted TF-IDF ridge estimate as a signal (training/stacked.py). `finetune`: the
    encoder tuned per fold, then on all, shipped in fp16. `files`: whole files for the file
    models (training/files.py). `pool`: code whose language detection the card also shows."""
    started = time.monotonic()
    base = Embedder(encoder)
    signals = signals_of(data, progress)
    names = signal_names(stacked=lexical)
    head = head if head is not None else EduScoreHead(n_signals=len(names))
    with (
        tempfile.TemporaryDirectory(prefix="eduscore-train-") as scratch,
        artifacts.staged(out_dir) as stage,
    ):
        work = cache_dir or scratch
        embedder, x, x_cv = _designs(
            base, data, signals, finetune, n_splits=n_splits, work=work, stage=stage,
            progress=progress,
        )  # fmt: skip
        stacked = lexical_signal(data, signals, n_splits) if lexical else None
        if stacked is not None:
            x_cv, x = stacked.designs(x_cv), with_column(x, stacked.final)
            stacked.model.save(stage)
        result = cross_validate(head, x_cv, data, n_splits=n_splits, progress=progress)
        log.info("cv: %s", headline(result.metrics))
        fitted = head.fit(x, data.labels, groups=np.asarray(data.groups))
        version = model_version or _default_version(data, finetune)
        enc = _encoder_record(embedder, base, finetune)
        meta = _metadata(data, fitted, enc, result.metrics, version, time.monotonic() - started)
        meta.update(feature_names=names, **({"stacked": stacked.record()} if stacked else {}))
        meta["language_detection"] = detection_record(data.languages, data.codes, pool)
        if fast:
            run = {"work": work, "out_dir": out_dir, "n_splits": n_splits, "progress": progress}
            _fast_and_files(meta, data, signals, stage, base, result, stacked, files, finetune, run)
            meta["train_seconds"] = round(time.monotonic() - started, 1)
        artifacts.save_head(stage, fitted, meta)
        artifacts.save_oof(stage, data.ids, result.oof)
        title = f"{n_splits}-fold CV grouped by package"
        write_report(stage, result.metrics, data.labels, result.oof, title=title)
        card.write(stage, meta)
    return TrainResult(model_dir=Path(out_dir), metadata=meta, oof=result.oof)
