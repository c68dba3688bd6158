"""README blocks written from the shipped model's stamped artifacts: the threshold table
(models/current/report.json), the tiers table (metadata.json's tiers with the newest bench run)
and the model paragraph's figures (metadata.json). bench/report.py writes them with the bench's
own tables between their markers; nothing here is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "models" / "current"
#: The thresholds the README tabulates: the calibration's borderline range, 2.5-3.5.
THRESHOLDS = (2.5, 2.75, 3.0, 3.25, 3.5)
#: Per-language groups that are not a programming language (left out of the F1 range).
NOT_CODE = "config and text"


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _pct(x: float) -> str:
    return f"{x:.0%}".replace("%", " %")


def thresholds_table(report: dict[str, Any]) -> str:
    """Precision, recall and share kept at each README threshold, from the grouped-CV report."""
    by_t = {row["threshold"]: row for row in report["thresholds"]}
    rows = [by_t[t] for t in THRESHOLDS]
    heads = " | ".join(f"{t} (default)" if t == 3.0 else f"{t}" for t in THRESHOLDS)
    lines = [f"| `threshold` | {heads} |", "|---" * (len(THRESHOLDS) + 1) + "|"]
    for name, key, fmt in (
        ("precision", "precision_keep", "{:.2f}"),
        ("recall", "recall_keep", "{:.2f}"),
        ("share kept", "kept", None),
    ):
        cells = [_pct(r[key]) if fmt is None else fmt.format(r[key]) for r in rows]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio(bench: dict[str, Any], prefix: str) -> list[float]:
    return [r["ratio"] for r in bench["rows"] if r["scenario"].startswith(prefix)]


def _tuning(meta: dict[str, Any]) -> str:
    """How the model's encoder came to be: tuned on the labels (a `finetune` record), or not."""
    return " tuned on the labels (fp16 on disk)" if "finetune" in meta["encoder"] else " (frozen)"


def tiers_table(meta: dict[str, Any], bench: dict[str, Any]) -> str:
    """The tiers side by side: grouped-CV figures from the model, speeds from the bench run."""
    tiers, t = meta["tiers"], bench["tiers"]
    cv = {k: f"{v['cv']['f1_keep']:.3f} / {v['cv']['spearman']:.3f}" for k, v in tiers.items()}
    cascade, st = tiers["cascade"], bench["stages_s"]
    lo, hi = cascade["band"]
    encoder_share = st["encoder"] / sum(st[k] for k in ("encoder", "signals", "lexical", "head"))
    fast_served = _ratio(bench, "ScoreBatch tier=fast") + _ratio(bench, "fast server")
    filter_fast = t["filter_fast"]["per_s"] / bench["ceiling"]["best"]
    gap = tiers["full"]["cv"]["f1_keep"] - tiers["fast"]["cv"]["f1_keep"]
    served = _ratio(bench, "ScoreBatch tier=cascade")[0]
    escalated = t["in_process"]["cascade"]["escalated_share"]
    fast = t["fast_server"]
    return "\n".join(
        [
            "| tier | embeds with | grouped-CV F1 / Spearman | speed on 2 cores (bench below, ×"
            " the encoder's in-process rate) | use it for |",
            "|---|---|---|---|---|",
            f"| `full` (default) | all-MiniLM-L6-v2{_tuning(meta)}, 256 tokens"
            f" | {cv['full']} | ~1× (the encoder is {_pct(encoder_share)} of the cost) | the"
            " reference judgement |",
            "| `fast` | a static table distilled from the untuned encoder (model2vec, 2,048"
            f" tokens), no transformer | {cv['fast']} | {min(fast_served):.0f}–"
            f"{max(fast_served):.0f}× through the service, {filter_fast:.0f}× for `eduscore"
            f" filter --tier fast` | bulk filtering: {gap:.3f} F1 below `full` in grouped CV |",
            f"| `cascade` | `fast`, then `full` only for fast scores in [{lo}, {hi}) |"
            f" {cv['cascade']} | {served:.1f}× served ({escalated:.1%} of the bench set,"
            f" {cascade['escalated_share']:.1%} of the corpus go to the encoder) | the full"
            f" tier's keep decisions (≥ {1 - cascade['tolerance']:.1%} the same, out of fold) for"
            f" about 1/{served:.0f} of the cost |",
            "",
            "A server started `--tier fast` loads neither PyTorch nor scikit-learn (the fast head"
            " runs from plain arrays in numpy, `scoring/trees.py`): health SERVING"
            f" {fast['ready_s']:.1f} s after launch, {fast['peak_rss_mib']:.0f} MiB.",
        ]
    )


def model_figures(meta: dict[str, Any]) -> str:
    """The model paragraph's figures: pooled, per language, per tier."""
    cv, data, tiers = meta["cv"], meta["training_data"], meta["tiers"]
    langs = {k: v for k, v in cv["per_language"].items() if k != NOT_CODE}
    low = min(langs, key=lambda k: langs[k]["f1_keep"])
    high = max(langs, key=lambda k: langs[k]["f1_keep"])
    text = cv["per_language"].get(NOT_CODE)
    kept = (
        f" {text['n_keep_pred']} of {text['n']:,} config and text units kept ({text['n_keep_true']}"
        " labelled keep-worthy)."
        if text
        else ""
    )
    return (
        f"Grouped CV on {data['n_units']:,} units from {data['n_groups']} sources: F1"
        f" {cv['f1_keep']:.3f}, precision {cv['precision_keep']:.3f}, Spearman"
        f" {cv['spearman']:.3f}; by language F1 from {langs[low]['f1_keep']:.2f} ({low}) to"
        f" {langs[high]['f1_keep']:.2f} ({high}), Python {langs['Python']['f1_keep']:.2f};{kept}"
        f" The fast tier: F1 {tiers['fast']['cv']['f1_keep']:.3f}, Spearman"
        f" {tiers['fast']['cv']['spearman']:.3f}; the cascade"
        f" {tiers['cascade']['cv']['f1_keep']:.3f}."
    )


def blocks(bench: dict[str, Any] | None) -> dict[str, str]:
    """Each README block this module writes, by marker name."""
    meta = _json(MODEL_DIR / "metadata.json")
    out = {
        "thresholds": thresholds_table(_json(MODEL_DIR / "report.json")),
        "model": model_figures(meta),
    }
    if bench is not None and "tiers" in bench and "tiers" in meta:
        out["tiers"] = tiers_table(meta, bench)
    return out
