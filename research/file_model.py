"""Variants of the file model, refitted on a trained model's `files_oof.json` (out-of-fold unit
scores of `files.jsonl`, no code) under the same grouped CV as `eduscore train --files`: the
ridge penalty, the inputs (with or without the whole file read as one unit, `naive`), and the
calibration (the shipped shift that puts the keep line at 3.0, or the unit head's isotonic one).

    python -m research.file_model models/current [--tier fast]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eduscore.scoring.files import FilePlan, aggregate
from eduscore.scoring.units import Unit
from eduscore.training import files as ft
from eduscore.training.evaluation import compute_metrics
from eduscore.training.folds import package_folds
from eduscore.training.heads import best_cut, fit_calibration

Fit = Callable[[np.ndarray, np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]


def load(model_dir: Path, tier: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[aggregates | naive] per file, labels, groups."""
    rows = json.loads((model_dir / "files_oof.json").read_text())
    x = []
    for r in rows:
        units = tuple(Unit(k, "", a, b, "x" * n) for k, a, b, n in r["units"])
        plan = FilePlan(units, r["fmt"], r["n_chars"], r["generated"])
        x.append([*aggregate(plan, r[f"{tier}_scores"]), r[f"{tier}_naive"]])
    return np.array(x), np.array([r["label"] for r in rows]), np.array([r["group"] for r in rows])


def ridge(alpha: float, cols: list[int], isotonic: bool) -> Fit:
    def fit(xt: np.ndarray, yt: np.ndarray, gt: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        ft.ALPHA, saved = alpha, ft.ALPHA
        try:
            raw = np.zeros(len(yt))
            for tr, te in package_folds(gt, 5).split(xt, yt, groups=gt):
                coef, b = ft._fit(xt[tr][:, cols], yt[tr])
                raw[te] = xt[te][:, cols] @ coef + b
            coef, b = ft._fit(xt[:, cols], yt)
        finally:
            ft.ALPHA = saved
        if isotonic:
            cal = fit_calibration(raw, yt)
            return lambda xe: cal.apply(xe[:, cols] @ coef + b)
        c = best_cut(raw, yt)
        return lambda xe: np.clip(xe[:, cols] @ coef + b - c + 3.0, 0.0, 5.0)

    return fit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--tier", default="full")
    args = ap.parse_args(argv)
    x, y, groups = load(args.model_dir, args.tier)
    n = x.shape[1]
    for name, cols in (("aggregates", list(range(n - 1))), ("aggregates+naive", list(range(n)))):
        for alpha in (1.0, 3.0, 10.0, 30.0):
            for isotonic in (False, True):
                oof = np.zeros(len(y))
                for tr, te in package_folds(groups, 5).split(x, y, groups=groups):
                    oof[te] = ridge(alpha, cols, isotonic)(x[tr], y[tr], groups[tr])(x[te])
                m = compute_metrics(y, oof)
                print(
                    f"{name:17s} alpha={alpha:4.0f} {'isotonic' if isotonic else 'shift   '}"
                    f" F1={m['f1_keep']:.3f} P={m['precision_keep']:.3f}"
                    f" R={m['recall_keep']:.3f} Spearman={m['spearman']:.3f} MAE={m['mae']:.3f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
