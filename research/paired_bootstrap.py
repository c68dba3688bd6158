"""Is model B's grouped-CV gain over model A real? A paired bootstrap over packages.

Both models' out-of-fold scores (`oof.json`) on the same corpus are resampled together, package
by package (the unit the CV holds out), and the F1@3 and Spearman differences recomputed.

    python -m research.paired_bootstrap old-model/ models/current [--n 1000]

(`git worktree add /tmp/old <rev>` gives an earlier model directory.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from research.harness import corpus


def oof(model_dir: Path, ids: list[str]) -> np.ndarray:
    raw = json.loads((model_dir / "oof.json").read_text())
    by_id = dict(zip(raw["ids"], raw["scores"], strict=True))
    return np.array([by_id[i] for i in ids], dtype=np.float64)


def f1_keep(scores: np.ndarray, labels: np.ndarray) -> float:
    truth, kept = labels >= 3.0, scores >= 3.0
    return float(2 * np.sum(truth & kept) / max(1, truth.sum() + kept.sum()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--n", type=int, default=1000, help="bootstrap resamples")
    args = ap.parse_args(argv)
    data = corpus()
    a, b, y = oof(args.a, data.ids), oof(args.b, data.ids), data.labels
    groups = np.asarray(data.groups)
    packages = np.unique(groups)
    rows = {p: np.flatnonzero(groups == p) for p in packages}
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(args.n):
        i = np.concatenate([rows[p] for p in rng.choice(packages, len(packages))])
        rho = spearmanr(b[i], y[i]).statistic - spearmanr(a[i], y[i]).statistic
        diffs.append((f1_keep(b[i], y[i]) - f1_keep(a[i], y[i]), rho))
    d = np.array(diffs)
    point = (f1_keep(b, y) - f1_keep(a, y), spearmanr(b, y).statistic - spearmanr(a, y).statistic)
    for k, name in enumerate(("F1@3", "Spearman")):
        lo, hi = np.quantile(d[:, k], [0.025, 0.975])
        print(
            f"{name}: B - A = {point[k]:+.4f} (95 % interval {lo:+.4f} to {hi:+.4f};"
            f" B ahead in {np.mean(d[:, k] > 0):.0%} of {args.n} resamples of {len(packages)}"
            " packages)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
