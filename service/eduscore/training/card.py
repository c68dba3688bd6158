"""The model card: README.md beside a trained head, written from its metadata (never by hand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eduscore.training.card_sections import _num, _row, detection_section, files_section
from eduscore.training.cascade import card_lines as cascade_card_lines

_HEADLINE = (
    "f1_keep",
    "precision_keep",
    "recall_keep",
    "spearman",
    "mae",
    "accuracy_label",
    "within_one",
    "min_package_f1",
)


def _tuned(enc: dict[str, Any]) -> str:
    if "base" not in enc:
        return ""
    recipe = ", ".join(f"{k} {v}" for k, v in enc["finetune"].items())
    return (
        f", fine-tuned on the labels from `{enc['base']['name']}` (sha256"
        f" `{enc['base']['sha256'][:16]}…`; {recipe}) and shipped in `{enc['path']}/` with"
        " fp16 weights (served in fp32); in CV each fold's encoder was tuned on that fold's"
        " training packages only"
    )


def _borderline(meta: dict[str, Any]) -> str:
    edges = meta.get("calibration", {}).get("borderline") or [None, None]
    if None in edges:
        return ""
    return (
        f"; raw outputs {edges[0]:.3f}-{edges[1]:.3f}, where the share of keep-worthy units rises"
        " from 1/4 to 3/4, map linearly onto the borderline range 2.5-3.5"
    )


def _group_table(kind: str, caption: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    """One row per package or per detected format (evaluation.per_group rows)."""
    if not groups:
        return []
    head = [kind, "n", "positives", "kept", "F1", "precision", "recall", "Spearman", "MAE"]
    return [
        "",
        caption,
        "",
        _row(head),
        _row(["---"] * len(head)),
        *(
            _row(
                [
                    name,
                    p["n"],
                    p["n_keep_true"],
                    p.get("n_keep_pred", ""),  # absent from cards trained before it was recorded
                    *(_num(p[k]) for k in ("f1_keep", "precision_keep", "recall_keep")),
                    _num(p.get("spearman", "")),
                    _num(p["mae"]),
                ]
            )
            for name, p in groups.items()
        ),
    ]


def _what_it_is(meta: dict[str, Any]) -> list[str]:
    data, enc = meta["training_data"], meta["encoder"]
    params = ", ".join(f"{k}={v}" for k, v in sorted(meta["head"]["params"].items()))
    det = meta.get("language_detector") or {}
    return [
        "## What it is",
        f"- Encoder: `{enc['name']}` ({enc['dim']}-d, reads {enc['max_seq_length']} tokens;"
        f" weights sha256 `{enc['sha256'][:16]}…`){_tuned(enc)}.",
        f"- Head: `{meta['head']['name']}` ({meta['head']['class']}; {params}).",
        f"- Input of the head: the embedding and {len(meta['feature_names'])} signals"
        " (Python read with `ast`; JS/TS, Go, Java, Rust, C, C++, C#, PHP, Ruby, Swift, shell with"
        " tree-sitter): " + ", ".join("`" + n + "`" for n in meta["feature_names"]) + ".",
        *_stacked(meta),
        "- Language: detected from the text (rules for JSON/YAML/TOML/INI/Dockerfile/Makefile,"
        " a token model for twelve programming languages, `other` code and prose"
        + (
            f", trained on `{det['trained_on'].get('pool', '')}` and the sources its metadata"
            " lists, never this corpus"
            if det.get("trained_on")
            else ""
        )
        + "); a request's `language` hint decides where the text allows it (a hint the"
        " detector finds implausible is overruled), and training reads each unit's language"
        " as that hint.",
        "- Stored as `head.json` + `head.npz` (the head compiled to plain arrays: what serving"
        " runs), `head.skops` (the scikit-learn estimator; no pickle), `calibration.json`"
        " (raw output -> 0-5 score; keep line pinned at the cut"
        f" {meta.get('calibration', {}).get('cut', float('nan')):.3f}{_borderline(meta)}) and"
        " `metadata.json`.",
        f"- Trained on `{data['path']}` sha256 `{data['sha256']}`: {data['n_units']} units from"
        f" {data['n_groups']} packages; label counts {data['label_counts']}.",
        f"- Library versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}.",
        "",
    ]


def _stacked(meta: dict[str, Any]) -> list[str]:
    st = meta.get("stacked")
    if not st:
        return []
    return [
        f"- `{st['name']}`, the last signal, is a {st['model']} (alpha {st['alpha']},"
        f" {st['vocabulary']:,} tokens seen in at least {st['min_df']} training units), stored"
        f" as `{st['file']}` (plain JSON). It is stacked: the head was trained on its grouped"
        " out-of-fold values, and inside each CV fold it was refitted on that fold's training"
        " packages only (inner grouped folds for the training rows)."
    ]


def _cv_tables(cv: dict[str, Any]) -> list[str]:
    lines = [
        f"## Grouped cross-validation ({cv['n_splits']} folds, GroupKFold by `package`)",
        "",
        "Every number below is out-of-fold: each unit was scored by a head that never saw its",
        "package. The keep decision is score >= 3.0 against label >= 3.",
        "",
        _row(["metric", "value"]),
        _row(["---", "---"]),
        *(_row([k, _num(cv[k])]) for k in _HEADLINE if k in cv),
        "",
        "Per fold:",
        "",
        _row(["fold", "packages", "n", "F1", "precision", "recall", "Spearman", "MAE"]),
        _row(["---"] * 8),
    ]
    keys = ("n", "f1_keep", "precision_keep", "recall_keep", "spearman", "mae")
    for f in cv["per_fold"]:
        lines.append(_row([f["fold"], ", ".join(f["packages"]), *(_num(f[k]) for k in keys)]))
    return lines


def _thresholds(cv: dict[str, Any]) -> list[str]:
    if not cv.get("thresholds"):
        return []
    keys = ("precision_keep", "recall_keep", "f1_keep")
    return [
        "",
        "Other keep thresholds (`threshold` in the request; same out-of-fold scores, truth is"
        " still label >= 3): a higher one keeps less and purer data.",
        "",
        _row(["threshold", "precision", "recall", "F1", "share kept"]),
        _row(["---"] * 5),
        *(
            _row([t["threshold"], *(_num(t[k]) for k in keys), f"{t['kept']:.1%}"])
            for t in cv["thresholds"]
        ),
    ]


def weak_spots(cv: dict[str, Any], floor: float = 0.70) -> list[str]:
    """Plain sentences on where the model is weak: language groups under the floor."""
    out = []
    for name, g in cv.get("per_language", {}).items():
        if g["n_keep_true"] >= 10 and g["f1_keep"] < floor:
            out.append(
                f"- {name}: F1 {g['f1_keep']:.2f} (precision {g['precision_keep']:.2f}, recall"
                f" {g['recall_keep']:.2f}) on {g['n_keep_true']} keep-worthy units of {g['n']}."
            )
        elif g["n_keep_true"] < 10:
            out.append(
                f"- {name}: only {g['n_keep_true']} keep-worthy units of {g['n']}: the model"
                f" keeps {g['n_keep_pred']} of them in CV; too few positives to measure F1."
            )
    return out


def tiers_section(meta: dict[str, Any]) -> list[str]:
    """The tiers side by side (same grouped folds), and the fast tier per language."""
    tiers = meta.get("tiers")
    if not tiers:
        return []
    keys = ("f1_keep", "precision_keep", "recall_keep", "spearman", "mae")
    head = ["tier", "F1", "precision", "recall", "Spearman", "MAE", "to the encoder"]
    cascade = tiers.get("cascade", {})
    lines = [
        "",
        "## Tiers",
        "",
        "`full` embeds with the encoder above; `fast` with a static table distilled from it",
        "(model2vec, `fast/static/`) and its own head trained in the same grouped CV.",
        *cascade_card_lines(cascade),
        "",
        "The tiers at the default keep line (3.0):",
        "",
        _row(head),
        _row(["---"] * len(head)),
    ]
    share = {"full": "100%", "fast": "0%", "cascade": f"{cascade.get('escalated_share', 0):.1%}"}
    for name in ("full", "fast", "cascade"):
        if name in tiers:
            # The full tier's own CV at full precision (the tiers record keeps 4 digits).
            cv = meta["cv"] if name == "full" else tiers[name]["cv"]
            lines.append(_row([name, *(_num(cv.get(k, "")) for k in keys), share[name]]))
    return lines + _group_table(
        "language", "The fast tier per language:", tiers.get("fast", {}).get("per_language", {})
    )


def render(meta: dict[str, Any], notes: str = "") -> str:
    cv = meta["cv"]
    lines = [
        f"# Model card: `{meta['model_version']}`",
        "",
        "Rates how much a student learning to program would learn from a code snippet, on the",
        "0-5 scale of the annotation rubric; `keep` is score >= 3.0 by default.",
        "",
        *_what_it_is(meta),
        *_cv_tables(cv),
        *_thresholds(cv),
    ]
    lines += _group_table(
        "language", "Per language (the corpus's language, from file names):",
        cv.get("per_language", {}),
    )  # fmt: skip
    weak = weak_spots(cv)
    if weak:
        lines += ["", "Where the model is weak (language groups under F1 0.70):", "", *weak]
    lines += _group_table(
        "package",
        "Per package (F1 counts toward the floor where the package has >= 10 positives):",
        cv.get("per_package", {}),
    )
    lines += _group_table(
        "format", "Per format (as the model detects it from the text):", cv.get("per_format", {})
    )
    lines += ["", "Confusion matrix (rows: annotated label, columns: predicted label):", ""]
    lines += [_row(["", *range(6)]), _row(["---"] * 7)]
    lines += [_row([i, *row]) for i, row in enumerate(cv["confusion"])]
    lines += ["", "![confusion](confusion.png) ![score vs label](score_vs_label.png)", ""]
    lines += tiers_section(meta) + files_section(meta) + detection_section(meta)
    if notes:
        lines += ["", notes.rstrip(), ""]
    return "\n".join(lines)


def _mean(rows: list[dict[str, Any]], value: Any) -> float:
    return sum(value(r) for r in rows) / len(rows)


def learning_curve(rows: list[dict[str, Any]]) -> str:
    """The learning-curve section (research/learning_curve.py writes the rows and the plot)."""
    shares = sorted({r["share"] for r in rows})
    langs = sorted(rows[-1]["per_language"])
    head = ["share of packages", "F1", "Spearman", *(f"{lang} F1" for lang in langs)]
    lines = [
        "## Learning curve",
        "",
        "Grouped-CV F1 and Spearman when each outer fold trains on a share of its training",
        "packages (same held-out packages; `python -m research.learning_curve`), with the untuned",
        "encoder (tuning one per fold and share would take hours here). A curve still rising at",
        "100 % says more labelled packages would still pay, for that language.",
        "",
        _row(head),
        _row(["---"] * len(head)),
    ]
    for share in shares:
        sel = [r for r in rows if r["share"] == share]
        pooled = [_mean(sel, lambda r: r["f1_keep"]), _mean(sel, lambda r: r["spearman"])]
        by_lang = [_mean(sel, lambda r, g=g: r["per_language"][g]["f1_keep"]) for g in langs]
        lines.append(_row([f"{share:.0%}", *map(_num, pooled + by_lang)]))
    return "\n".join([*lines, "", "![learning curve](learning_curve.png)"])


def write(out_dir: str | Path, meta: dict[str, Any], notes: str = "") -> Path:
    """The card from the metadata, with the learning curve when its rows are beside it."""
    out = Path(out_dir)
    curve = out / "learning_curve.json"
    if curve.is_file():
        notes = "\n\n".join(p for p in (learning_curve(json.loads(curve.read_text())), notes) if p)
    path = out / "README.md"
    path.write_text(render(meta, notes))
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m eduscore.training.card models/current`: re-render a card from its files."""
    import sys

    out = Path((argv if argv is not None else sys.argv[1:])[0])
    meta = json.loads((out / "metadata.json").read_text())
    print(f"wrote {write(out, meta)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
