"""The file model: whole files' judgement fitted on files labelled as wholes (`files.jsonl`).

Every file is split as served (`Scorer.plan`) and its units are scored by the unit model of the
outer CV fold that held the file's package out, so the aggregation learns from scores like the
ones unseen code gets (a unit model that saw the file's package scores its units from memory).
The aggregation (`scoring/files.py`: a ridge on the units' score distribution and file evidence,
calibrated like the unit head) is then itself cross-validated over files grouped by package, and
fitted on all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.scoring.files import AGGREGATES, FileModel, FilePlan, aggregate, weighted_mean
from eduscore.scoring.results import Snippet
from eduscore.scoring.scorer import FAST, FULL, Scorer
from eduscore.training.data import LabelledSet
from eduscore.training.evaluation import compute_metrics, language_group
from eduscore.training.folds import package_folds
from eduscore.training.heads import best_cut

log = logging.getLogger(__name__)

#: Ridge penalty on standardised aggregates: 209 files, 11 inputs; 1, 3, 10 and 30 measured
#: (research/file_model.py, EXPERIMENTS.md): 30 best in both tiers, within fold noise of 10.
ALPHA = 30.0
INNER_FOLDS = 5


def corpus_group(package: str, corpus_groups: set[str]) -> str:
    """A file's package as the corpus names it: a GitHub repository `gh_<owner>_<repo>` and the
    corpus's PyPI release `<repo>` are one source (the same code), so one CV group."""
    if package in corpus_groups or not package.startswith("gh_"):
        return package
    repo = package.split("_", 2)[-1].lower().replace("-", "_")
    return repo if repo in corpus_groups else package


@dataclass(frozen=True, slots=True)
class ScoredFiles:
    """Every file's plan, its units' out-of-fold scores per tier, and its naive score (the whole
    text read as one unit, as before files were split: the baseline)."""

    plans: list[FilePlan]
    units: dict[str, list[list[float]]]
    naive: dict[str, list[float]]


def score_files(
    files: LabelledSet, fold_scorers: Sequence[Scorer], fold_of: Sequence[int]
) -> ScoredFiles:
    """Units of each file scored by the fold scorer `fold_of[i]` (both tiers)."""
    plans = [
        fold_scorers[0].plan(Snippet(code=c, language=lang))
        for c, lang in zip(files.codes, files.languages, strict=True)
    ]
    units: dict[str, list[list[float]]] = {FULL: [[] for _ in plans], FAST: [[] for _ in plans]}
    naive: dict[str, list[float]] = {FULL: [0.0] * len(plans), FAST: [0.0] * len(plans)}
    for k, scorer in enumerate(fold_scorers):
        mine = [i for i, f in enumerate(fold_of) if f == k]
        for tier in (FULL, FAST):
            batch, owners = [], []
            for i in mine:
                part = scorer.units_of(Snippet(code=files.codes[i], tier=tier), plans[i])
                batch += [*part, Snippet(code=files.codes[i], language=plans[i].fmt, tier=tier)]
                owners += [i] * len(part) + [-i - 1]
            for owner, result in zip(owners, scorer.score_units(batch), strict=True):
                if owner >= 0:
                    units[tier][owner].append(result.score)
                else:
                    naive[tier][-owner - 1] = result.score
        log.info("files: fold %d scored %d files", k, len(mine))
    return ScoredFiles(plans, units, naive)


def _fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[np.ndarray, float]:
    """Ridge on standardised columns, folded back into coefficients on the raw aggregates."""
    from sklearn.linear_model import Ridge

    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    ridge = Ridge(alpha=ALPHA).fit((x - mean) / std, y)
    coef = ridge.coef_ / std
    return coef, float(ridge.intercept_ - np.dot(coef, mean))


def fit_file_model(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], groups: npt.NDArray[Any]
) -> FileModel:
    """Ridge, and the cut on its grouped out-of-fold outputs that best separates keep-worthy
    files (never chosen on outputs for files the ridge was fitted on)."""
    raw = np.zeros(len(y))
    for tr, te in package_folds(groups, INNER_FOLDS).split(x, y, groups=groups):
        coef, b = _fit(x[tr], y[tr])
        raw[te] = x[te] @ coef + b
    coef, b = _fit(x, y)
    meta = {"alpha": ALPHA, "n_files": len(y), "inner_folds": INNER_FOLDS}
    return FileModel(tuple(float(v) for v in coef), b, best_cut(raw, y), meta)


def cross_validate_files(
    scored: ScoredFiles, tier: str, files: LabelledSet, groups: npt.NDArray[Any], n_splits: int
) -> tuple[FileModel, dict[str, Any]]:
    """Grouped CV of the file model on one tier's unit scores, against the baselines, and the
    model fitted on every file."""
    x = np.asarray([aggregate(p, s) for p, s in zip(scored.plans, scored.units[tier], strict=True)])
    y = files.labels
    oof = np.zeros(len(y))
    for tr, te in package_folds(groups, n_splits).split(x, y, groups=groups):
        oof[te] = [
            fit_file_model(x[tr], y[tr], groups[tr]).judge(scored.plans[i], scored.units[tier][i])
            for i in te
        ]
    languages = [language_group(lang) for lang in files.languages]
    metrics = compute_metrics(y, oof, groups=list(groups), languages=languages)
    baselines = {
        "naive": scored.naive[tier],
        "max": x[:, AGGREGATES.index("max")],
        "weighted_mean": [
            weighted_mean(p, s) for p, s in zip(scored.plans, scored.units[tier], strict=True)
        ],
    }
    metrics["baselines"] = {
        name: _headline(compute_metrics(y, np.asarray(v, dtype=np.float64)))
        for name, v in baselines.items()
    }
    metrics["oof"] = [round(float(v), 4) for v in oof]
    return fit_file_model(x, y, groups), metrics


def _headline(m: dict[str, Any]) -> dict[str, float]:
    keys = ("f1_keep", "precision_keep", "recall_keep", "spearman", "mae")
    return {k: round(float(m[k]), 4) for k in keys}


def fold_scorers(
    embedders: Sequence[Any],
    full_heads: Sequence[Any],
    static: Any,
    fast_heads: Sequence[Any],
    lexicals: Sequence[Any],
    feature_names: list[str],
) -> list[Scorer]:
    """One Scorer per outer fold, from that fold's encoder, heads and lexical model."""
    from eduscore.scoring.model import Head
    from eduscore.scoring.tiers import Tier

    out = []
    for k, (emb, full, fast) in enumerate(zip(embedders, full_heads, fast_heads, strict=True)):
        meta = {"feature_names": feature_names, "model_version": f"fold-{k}"}
        tiers = [
            Tier(name, e, Head(h.estimator_, meta, h.calibration_))
            for name, e, h in ((FULL, emb, full), (FAST, static, fast))
        ]
        lexical = lexicals[k] if lexicals else None
        out.append(Scorer(tiers[0], tiers[1], lexical=lexical))
    return out


def train_files(
    files: LabelledSet,
    corpus: LabelledSet,
    scorers: Sequence[Scorer],
    n_splits: int,
) -> tuple[dict[str, FileModel], dict[str, Any]]:
    """Both tiers' file models, fitted on every file, and their grouped-CV record."""
    from eduscore.training.folds import outer_splits

    groups = set(corpus.groups)
    held_out = [{corpus.groups[j] for j in te} for _, te in outer_splits(corpus.groups, n_splits)]
    mapped = [corpus_group(p, groups) for p in files.groups]
    # A file whose package the corpus lacks is unseen by every fold: any fold may score it.
    fold_of = [next((k for k, g in enumerate(held_out) if m in g), 0) for m in mapped]
    scored = score_files(files, scorers, fold_of)
    models, record = {}, {}
    group_arr = np.asarray(mapped)
    for tier in (FULL, FAST):
        models[tier], metrics = cross_validate_files(scored, tier, files, group_arr, n_splits)
        record[tier] = metrics
        log.info("files %s: %s; baselines %s", tier, _headline(metrics), metrics["baselines"])
    record["data"] = {"path": files.path, "sha256": files.sha256, "n_files": len(files)}
    record["scored"] = scored_record(files, scored, mapped)
    return models, record


def scored_record(files: LabelledSet, scored: ScoredFiles, groups: list[str]) -> list[dict]:
    """Per file: id, label, group, its units (kind, lines, characters) and out-of-fold scores per
    tier; no code. What research/ refits aggregation variants on without retraining."""
    out = []
    for i, plan in enumerate(scored.plans):
        out.append({
            "id": files.ids[i], "label": float(files.labels[i]), "group": groups[i],
            "language": files.languages[i], "fmt": plan.fmt, "n_chars": plan.n_chars,
            "generated": plan.generated,
            "units": [[u.kind, u.start_line, u.end_line, len(u.code)] for u in plan.units],
            **{f"{t}_scores": [round(v, 5) for v in scored.units[t][i]] for t in (FULL, FAST)},
            **{f"{t}_naive": round(scored.naive[t][i], 5) for t in (FULL, FAST)},
        })  # fmt: skip
    return out
