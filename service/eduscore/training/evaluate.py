"""`eduscore evaluate`: score labelled JSONL with a model (or grouped-CV its recipe); report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from eduscore.errors import ModelLoadError
from eduscore.scoring.embedding import Embedder
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.training.cv import cross_validate
from eduscore.training.data import LabelledSet, read_labelled
from eduscore.training.designs import build_design, signals_of, tuned_designs
from eduscore.training.evaluation import compute_metrics, headline, language_group, write_report
from eduscore.training.finetune import FinetuneConfig
from eduscore.training.heads import EduScoreHead
from eduscore.training.stacked import lexical_signal


def _cv_designs(
    scorer: Scorer,
    data: LabelledSet,
    n_splits: int,
    *,
    cache_dir: str | Path | None,
    progress: bool,
) -> Any:
    """The recipe's designs for CV, with its stacked lexical column cross-fitted per fold."""
    signals = signals_of(data, progress)
    x = _encoder_designs(scorer, data, signals, n_splits, cache_dir=cache_dir, progress=progress)
    if scorer.lexical is None:
        return x
    return lexical_signal(data, signals, n_splits).designs(x)


def _encoder_designs(
    scorer: Scorer,
    data: LabelledSet,
    signals: list[dict[str, float]],
    n_splits: int,
    *,
    cache_dir: str | Path | None,
    progress: bool,
) -> Any:
    """The design matrix for CV, or one per fold when the model's encoder was fine-tuned: an
    encoder tuned on all data has seen every held-out label, so each fold re-tunes the base."""
    enc = scorer.metadata["encoder"]
    if "finetune" not in enc:
        return build_design(
            scorer.embedder, data, signals=signals, cache_dir=cache_dir, progress=progress
        )
    base = Embedder("")
    if base.sha256 != enc["base"]["sha256"]:
        raise ModelLoadError(
            f"the model's encoder was tuned from {enc['base']['name']!r}, not the embedded"
            " default: run `eduscore train --finetune --encoder <that directory>` to re-measure"
        )
    cfg = FinetuneConfig(**enc["finetune"])
    with tempfile.TemporaryDirectory(prefix="eduscore-cv-") as scratch:
        return tuned_designs(
            base,
            data,
            cfg,
            n_splits=n_splits,
            cache_dir=cache_dir or scratch,
            signals=signals,
            progress=progress,
        )


def training_data_note(metrics: dict[str, Any]) -> str:
    """One line saying whether the model was trained on the data just evaluated: a hold-out
    figure on its own training data measures memory, and a stale model is retrained."""
    mine, theirs = metrics["data_sha256"][:12], metrics["model_training_data_sha256"][:12]
    if metrics["trained_on_this_data"]:
        return f"the model was trained on this data (sha256 {mine}...): hold-out figures flatter it"
    return (
        f"the model was trained on other data (sha256 {theirs or 'unrecorded'}..., this file"
        f" {mine}...): if this is today's training corpus, retrain with `eduscore train`"
    )


def _holdout(
    scorer: Scorer, data: Any, batch_size: int, progress: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """The shipped model's scores of every row (a whole file is judged as served) and metrics."""
    scores = np.zeros(len(data))
    formats = [""] * len(data)
    for start in tqdm(
        range(0, len(data), batch_size), desc="scoring", unit="batch", disable=not progress
    ):
        end = start + batch_size
        rows = zip(
            data.ids[start:end], data.codes[start:end], data.languages[start:end], strict=True
        )
        results = scorer.score_batch([Snippet(id=i, code=c, language=lang) for i, c, lang in rows])
        scores[start : start + len(results)] = [r.score for r in results]
        formats[start : start + len(results)] = [r.language for r in results]
    metrics = compute_metrics(
        data.labels,
        scores,
        groups=data.groups if any(data.groups) else None,
        formats=formats,
        languages=[language_group(lang) for lang in data.languages],
    )
    return scores, metrics


def evaluate(
    data_path: str | Path,
    *,
    model_dir: str,
    out_dir: str | Path,
    cv: int = 0,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Metrics of `model_dir` on `data_path`; with `cv`, of its recipe under grouped CV.

    The plain mode is for data the model never saw (a hidden or new set). `cv` refits the shipped
    head on each fold's training packages and scores the held-out packages, which is what the
    model card reports for the training corpus itself.
    """
    data = read_labelled(data_path)
    scorer = Scorer.load(model_dir)
    if cv:
        head = EduScoreHead(**scorer.metadata["head"]["params"])
        x = _cv_designs(scorer, data, cv, cache_dir=cache_dir, progress=progress)
        result = cross_validate(head, x, data, n_splits=cv, progress=progress)
        scores, metrics = result.oof, result.metrics
        title = f"{type(head).__name__}: {cv}-fold CV grouped by package"
    else:
        scores, metrics = _holdout(scorer, data, batch_size, progress)
        title = f"model {scorer.model_version}"
    trained_on = str(scorer.metadata.get("training_data", {}).get("sha256", ""))
    metrics.update(
        model_version=scorer.model_version,
        data_sha256=data.sha256,
        model_training_data_sha256=trained_on,
        trained_on_this_data=trained_on == data.sha256,
        data=Path(data.path).name,
    )
    metrics["mode"] = f"grouped-cv-{cv}" if cv else "holdout"
    write_report(out_dir, metrics, data.labels, scores, title=title)
    print(headline(metrics))
    print(training_data_note(metrics))
    return metrics
