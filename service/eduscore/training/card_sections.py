"""Card sections for what a model reads beyond units: how well it names languages, and how it
judges whole files. The records are made at training time (`detection_record`,
training/files.py) and rendered here."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eduscore.scoring import features
from eduscore.scoring.features.formats import PROGRAMMING_LANGUAGES


def _accuracy(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Per language: units and the share the detector named right (no hint)."""
    n: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    for truth, code in pairs:
        n[truth] += 1
        ok[truth] += features.format_of(code) == truth
    per = {lang: {"n": n[lang], "accuracy": round(ok[lang] / n[lang], 4)} for lang in sorted(n)}
    prog = [lang for lang in n if lang in PROGRAMMING_LANGUAGES]
    total = sum(n[lang] for lang in prog)
    right = sum(ok[lang] for lang in prog)
    return {"programming_accuracy": round(right / max(total, 1), 4), "per_language": per}


def _pool(path: Path) -> Iterable[tuple[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            yield row["language"], row["code"]


def detection_record(
    languages: list[str], codes: list[str], pool: str | Path | None = None
) -> dict[str, Any]:
    """The detector's accuracy from the text alone (no hint), on the training data (which the
    detector never read) and, if given, the code pool (partly its training data)."""
    out = {"corpus": _accuracy(zip(languages, codes, strict=True))}
    if pool:
        out["pool"] = _accuracy(_pool(Path(pool)))
    return out


def _row(values: list[Any]) -> str:
    return "| " + " | ".join(str(v) for v in values) + " |"


def _num(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def detection_section(meta: dict[str, Any]) -> list[str]:
    record = meta.get("language_detection")
    if not record:
        return []
    sets = [s for s in ("corpus", "pool") if s in record]
    langs = sorted({lang for s in sets for lang in record[s]["per_language"]})
    lines = [
        "",
        "## Language detection",
        "",
        "How often the text alone (no hint) names the language the file name says; the corpus",
        "was never read by the detector, the pool partly was (up to 4,000 units per language).",
        "Programming languages: "
        + ", ".join(f"{s} {record[s]['programming_accuracy']:.1%}" for s in sets)
        + ".",
        "",
        _row(["language", *(f"{s} units" for s in sets), *(f"{s} accuracy" for s in sets)]),
        _row(["---"] * (1 + 2 * len(sets))),
    ]
    for lang in langs:
        cells = [record[s]["per_language"].get(lang, {}) for s in sets]
        lines.append(
            _row(
                [
                    lang,
                    *(c.get("n", "") for c in cells),
                    *(f"{c['accuracy']:.3f}" if c else "" for c in cells),
                ]
            )
        )
    return lines


def files_section(meta: dict[str, Any]) -> list[str]:
    """The file model's grouped CV on whole files, against the baselines, per tier."""
    record = meta.get("files")
    if not record:
        return []
    keys = ("f1_keep", "precision_keep", "recall_keep", "spearman", "mae")
    head = ["tier", "judgement", "F1", "precision", "recall", "Spearman", "MAE"]
    lines = [
        "",
        "## Whole files",
        "",
        "An input longer than one unit (3,000 characters) is split into units as the corpus cut",
        "them (functions, classes or their methods, the module head, blocks, pieces of config),",
        "each unit is scored, and a ridge on the units' score distribution (max, mean, weighted",
        "mean, top three, spread, share kept, head, share outside declarations, size) judges the",
        f"file. Grouped CV over {record['data']['n_files']} whole files labelled as wholes",
        f"(`{Path(record['data']['path']).name}`, sha256 `{record['data']['sha256'][:16]}…`),",
        "each file's units scored by the unit model of the fold that held its package out:",
        "",
        _row(head),
        _row(["---"] * len(head)),
    ]
    names = {"naive": "the file as one unit (before)", "max": "best unit",
             "weighted_mean": "length-weighted mean"}  # fmt: skip
    for tier in ("full", "fast"):
        if tier not in record:
            continue
        m = record[tier]
        lines.append(_row([tier, "**file model**", *(f"{m[k]:.3f}" for k in keys)]))
        for name, b in m.get("baselines", {}).items():
            lines.append(_row([tier, names.get(name, name), *(f"{b[k]:.3f}" for k in keys)]))
    return lines
