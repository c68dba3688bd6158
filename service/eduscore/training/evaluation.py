"""Metrics of predicted scores against labels, and the report (JSON + PNG plots) that shows them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

KEEP_AT = 3.0
#: A package's own F1 is reported only where it has this many positives (fewer is noise).
MIN_PACKAGE_POSITIVES = 10
#: Keep thresholds a pipeline might pick instead of the default: the report shows what each
#: buys in precision and costs in recall, so a user who wants purer data can choose by number.
OPERATING_THRESHOLDS = (2.5, 2.75, 3.0, 3.25, 3.5, 4.0)
#: Language groups of the card's per-language table (the corpus's `language`, from file names).
LANGUAGE_GROUPS = {
    "python": "Python",
    "javascript": "JavaScript/TypeScript",
    "typescript": "JavaScript/TypeScript",
    "rust": "Rust",
    "go": "Go",
    "java": "Java",
    "c": "C/C++",
    "cpp": "C/C++",
    "csharp": "C#",
    "php": "PHP",
    "ruby": "Ruby",
    "swift": "Swift",
    "shell": "shell",
}


def language_group(language: str) -> str:
    """The card's group for a language name; everything else is config and text."""
    return LANGUAGE_GROUPS.get(language, "config and text")


def _labels(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.clip(np.floor(values + 0.5), 0, 5).astype(np.int64)


def binary_scores(truth: npt.NDArray[np.bool_], pred: npt.NDArray[np.bool_]) -> dict[str, float]:
    tp = float(np.sum(truth & pred))
    precision = tp / max(float(np.sum(pred)), 1.0)
    recall = tp / max(float(np.sum(truth)), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision_keep": precision, "recall_keep": recall, "f1_keep": f1}


def compute_metrics(
    labels: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    *,
    threshold: float = KEEP_AT,
    groups: Sequence[str] | None = None,
    formats: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
) -> dict[str, Any]:
    """F1/precision/recall of keep (label >= 3 vs score >= threshold), Spearman, MAE and more.

    `groups` (packages), `formats` (the detected format of each unit) and `languages` (the
    true language group) add the same metrics per group: a pooled F1 can hide a source or a
    whole language that is never kept.
    """
    from scipy.stats import spearmanr

    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    truth, pred = labels >= KEEP_AT, scores >= threshold
    out: dict[str, Any] = binary_scores(truth, pred)
    rho = spearmanr(labels, scores).statistic if len(labels) > 1 else float("nan")
    out["spearman"] = float(rho) if np.isfinite(rho) else 0.0
    out["mae"] = float(np.mean(np.abs(labels - scores)))
    out["accuracy_label"] = float(np.mean(_labels(labels) == _labels(scores)))
    out["within_one"] = float(np.mean(np.abs(_labels(labels) - _labels(scores)) <= 1))
    out["n"] = len(labels)
    out["n_keep_true"] = int(truth.sum())
    out["n_keep_pred"] = int(pred.sum())
    matrix = np.zeros((6, 6), dtype=np.int64)
    np.add.at(matrix, (_labels(labels), _labels(scores)), 1)
    out["confusion"] = matrix.tolist()
    out["thresholds"] = operating_points(labels, scores)
    if groups is not None:
        out["per_package"] = per_group(labels, scores, groups, threshold)
        eligible = [
            v["f1_keep"]
            for v in out["per_package"].values()
            if v["n_keep_true"] >= MIN_PACKAGE_POSITIVES
        ]
        out["min_package_f1"] = float(min(eligible)) if eligible else float("nan")
    if formats is not None:
        out["per_format"] = per_group(labels, scores, formats, threshold)
    if languages is not None:
        out["per_language"] = per_group(labels, scores, languages, threshold)
    return out


def operating_points(
    labels: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]
) -> list[dict[str, float]]:
    """Precision, recall, F1 and the share kept at each of OPERATING_THRESHOLDS (label >= 3)."""
    truth = labels >= KEEP_AT
    rows = []
    for t in OPERATING_THRESHOLDS:
        pred = scores >= t
        rows.append({"threshold": t, **binary_scores(truth, pred), "kept": float(pred.mean())})
    return rows


def per_group(
    labels: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    groups: Sequence[str],
    threshold: float,
) -> dict[str, dict[str, float]]:
    """The keep metrics, MAE, Spearman and counts of each group (a package, a format, ...)."""
    from scipy.stats import spearmanr

    out: dict[str, dict[str, float]] = {}
    garr = np.asarray(groups)
    for name in sorted(set(groups)):
        mask = garr == name
        t, p = labels[mask] >= KEEP_AT, scores[mask] >= threshold
        row: dict[str, Any] = binary_scores(t, p)
        row["n"] = int(mask.sum())
        row["n_keep_true"] = int(t.sum())
        row["n_keep_pred"] = int(p.sum())
        row["mae"] = float(np.mean(np.abs(labels[mask] - scores[mask])))
        rho = spearmanr(labels[mask], scores[mask]).statistic if mask.sum() > 2 else float("nan")
        row["spearman"] = float(rho) if np.isfinite(rho) else 0.0
        out[name] = row
    return out


def headline(metrics: dict[str, Any]) -> str:
    """One line of the numbers people ask for first."""
    keys = ("f1_keep", "precision_keep", "recall_keep", "spearman", "mae", "min_package_f1")
    return "  ".join(f"{k}={metrics[k]:.3f}" for k in keys if k in metrics)


def write_report(
    out_dir: str | Path,
    metrics: dict[str, Any],
    labels: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    *,
    title: str,
) -> list[Path]:
    """Write report.json, confusion.png and score_vs_label.png into `out_dir`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")

    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    matrix = np.asarray(metrics["confusion"])
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(v),
            ha="center",
            va="center",
            color="black" if v < matrix.max() / 2 else "white",
            fontsize=9,
        )
    ax.set_xlabel("predicted label (score rounded)")
    ax.set_ylabel("annotated label (rounded)")
    ax.set_title(f"{title}\nF1(keep)={metrics['f1_keep']:.2f}  Spearman={metrics['spearman']:.2f}")
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    rng = np.random.default_rng(0)
    ax.scatter(labels + rng.uniform(-0.15, 0.15, len(labels)), scores, s=6, alpha=0.35)
    for v in range(6):
        sel = _labels(labels) == v
        if sel.any():
            ax.boxplot(scores[sel], positions=[v], widths=0.5, showfliers=False)
    ax.axhline(KEEP_AT, color="red", lw=1, ls="--", label="keep threshold")
    ax.set_xlabel("annotated label")
    ax.set_ylabel("predicted score")
    ax.set_xlim(-0.6, 5.6)
    ax.set_ylim(-0.2, 5.2)
    ax.set_title(f"{title}: score vs label (MAE {metrics['mae']:.2f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "score_vs_label.png", dpi=110)
    plt.close(fig)
    return [out / "report.json", out / "confusion.png", out / "score_vs_label.png"]
