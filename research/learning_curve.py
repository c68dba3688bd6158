"""Learning curve: grouped-CV F1 and Spearman when each outer fold trains on 25/50/75/100 % of
its training packages (same outer folds, same held-out packages), pooled and per language.
A share's packages are a random draw of each fold's training packages (--seeds draws).

    python -m research.learning_curve --out models/current
Writes learning_curve.json and learning_curve.png into --out (the card links them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from eduscore.scoring.features import FEATURE_NAMES
from eduscore.scoring.lexical import NOT_READ, tokens
from eduscore.training import stacked
from eduscore.training.evaluation import compute_metrics, language_group
from eduscore.training.folds import outer_splits
from eduscore.training.heads import N_SIGNALS, EduScoreHead
from research.harness import corpus, frozen_design

SHARES = (0.25, 0.5, 0.75, 1.0)
SEEDS = (0,)


def subset_design(x: np.ndarray, data: Any, sub: np.ndarray, docs: Any) -> np.ndarray:
    """The shipped recipe's design for a head trained on `sub`: the lexical column cross-fitted
    on `sub`'s packages only (docs None: the recipe without it)."""
    if docs is None:
        return x
    read = x[:, FEATURE_NAMES.index("config_format")] == 0.0  # lexical.reads, on the design
    col = np.where(read, stacked.cross_fitted(docs, data, sub, 4)[0], NOT_READ)
    return stacked.with_column(x, col)


def curve(
    x: np.ndarray, data: Any, seeds: tuple[int, ...] = SEEDS, *, lexical: bool = True
) -> list[dict[str, Any]]:
    groups = np.asarray(data.groups)
    docs = [tokens(c) for c in data.codes] if lexical else None
    n_signals = N_SIGNALS + (1 if lexical else 0)
    langs = [language_group(lang) for lang in data.languages]
    rows = []
    for share in SHARES:
        for seed in seeds if share < 1 else (0,):
            oof = np.zeros(len(data))
            for tr, te in outer_splits(groups, 5):
                pkgs = sorted(set(groups[tr]))
                rng = np.random.default_rng(seed)
                keep = set(rng.choice(pkgs, max(2, round(share * len(pkgs))), replace=False))
                sub = tr[np.isin(groups[tr], list(keep))]
                xs = subset_design(x, data, sub, docs)
                head = EduScoreHead(n_signals=n_signals)
                oof[te] = head.fit(xs[sub], data.labels[sub], groups=groups[sub]).predict(xs[te])
            m = compute_metrics(data.labels, oof, languages=langs)
            row = {
                "share": share,
                "seed": seed,
                "f1_keep": m["f1_keep"],
                "spearman": m["spearman"],
                "per_language": {
                    k: {"f1_keep": v["f1_keep"], "spearman": v["spearman"]}
                    for k, v in m["per_language"].items()
                },
            }
            print(f"share {share:.2f} seed {seed}: F1 {m['f1_keep']:.3f} "
                  f"Spearman {m['spearman']:.3f}", flush=True)  # fmt: skip
            rows.append(row)
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    langs = sorted(rows[-1]["per_language"])
    for ax, key in zip(axes, ("f1_keep", "spearman"), strict=True):
        for name in ["pooled", *langs]:
            xs, ys = [], []
            for share in SHARES:
                sel = [r for r in rows if r["share"] == share]
                vals = [r[key] if name == "pooled" else r["per_language"][name][key] for r in sel]
                xs.append(share * 100)
                ys.append(float(np.mean(vals)))
            ax.plot(xs, ys, marker="o", lw=2.5 if name == "pooled" else 1, label=name)
        ax.set_xlabel("% of each fold's training packages")
        ax.set_ylabel("F1 (keep)" if key == "f1_keep" else "Spearman")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Grouped-CV learning curve (mean of seeds below 100 %)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("models/current"))
    ap.add_argument("--seeds", type=int, default=len(SEEDS), help="package draws per share")
    ap.add_argument("--no-lexical", action="store_true", help="the recipe before session 10")
    args = ap.parse_args(argv)
    data = corpus()
    rows = curve(frozen_design(data), data, tuple(range(args.seeds)), lexical=not args.no_lexical)
    (args.out / "learning_curve.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, args.out / "learning_curve.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
