"""`eduscore evaluate`: score labelled JSONL with a model (or grouped-CV its recipe); report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.training.data import read_labelled
from eduscore.training.evaluation import compute_metrics, headline, write_report
from eduscore.training.train import build_design, cross_validate


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
        head = scorer.metadata["head"]["name"]
        x = build_design(scorer.embedder, data, cache_dir=cache_dir, progress=progress)
        scores, metrics = cross_validate(x, data, head, n_splits=cv, progress=progress)
        title = f"{head}: {cv}-fold CV grouped by package"
    else:
        scores = np.zeros(len(data))
        for start in tqdm(
            range(0, len(data), batch_size), desc="scoring", unit="batch", disable=not progress
        ):
            chunk = [
                Snippet(id=i, code=c, language=lang)
                for i, c, lang in zip(
                    data.ids[start : start + batch_size],
                    data.codes[start : start + batch_size],
                    data.languages[start : start + batch_size],
                    strict=True,
                )
            ]
            scores[start : start + len(chunk)] = [r.score for r in scorer.score_batch(chunk)]
        has_groups = any(data.groups)
        metrics = compute_metrics(data.labels, scores, groups=data.groups if has_groups else None)
        title = f"model {scorer.model_version}"
    metrics["model_version"] = scorer.model_version
    metrics["data_sha256"] = data.sha256
    metrics["data"] = Path(data.path).name
    metrics["mode"] = f"grouped-cv-{cv}" if cv else "holdout"
    write_report(out_dir, metrics, data.labels, scores, title=title)
    print(headline(metrics))
    return metrics
