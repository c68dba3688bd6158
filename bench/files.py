"""Whole files per second, per tier, in process: the labelled whole files (3-50 KB, 16
languages: a realistic mix of the sizes pipelines send), split, scored unit by unit and judged,
against the encoder's own rate on the same units. Writes a stamped JSON.

    python -m bench.files [--out bench/results/files-DATE.json] [--tiers full,fast,cascade]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.stamp import ROOT, stamp
from eduscore.scoring.scorer import Scorer, Snippet
from tests.conftest import FILES, MODEL_DIR


def _files() -> list[Snippet]:
    rows = [json.loads(line) for line in FILES.open(encoding="utf-8")]
    return [Snippet(id=r["id"], code=r["code"], language=r["language"]) for r in rows]


def run(tiers: list[str], batch: int = 8) -> dict[str, object]:
    files = _files()
    scorer = Scorer.load(str(MODEL_DIR), tier="cascade" if "full" in tiers else "fast")
    scorer.warmup()
    plans = [scorer.plan(f) for f in files]
    units = [u for f, p in zip(files, plans, strict=True) for u in scorer.units_of(f, p)]
    out: dict[str, object] = {
        "files": len(files),
        "units": len(units),
        "median_file_chars": statistics.median(len(f.code) for f in files),
        "tiers": {},
    }
    for tier in tiers:
        chosen = [Snippet(id=f.id, code=f.code, language=f.language, tier=tier) for f in files]
        started = time.perf_counter()
        for i in range(0, len(chosen), batch):
            scorer.score_batch(chosen[i : i + batch])
        seconds = time.perf_counter() - started
        out["tiers"][tier] = {  # type: ignore[index]
            "seconds": round(seconds, 2),
            "files_per_s": round(len(files) / seconds, 2),
            "units_per_s": round(len(units) / seconds, 1),
        }
        print(f"{tier}: {len(files) / seconds:.2f} files/s ({len(units) / seconds:.1f} units/s)")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiers", default="full,fast,cascade")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "files-latest.json"))
    args = ap.parse_args(argv)
    tiers = args.tiers.split(",")
    result = {**stamp(MODEL_DIR, tier=",".join(tiers)), "whole_files": run(tiers)}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
