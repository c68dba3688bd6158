"""How far scores move when a tuned encoder is stored in fp16 instead of fp32.

Applies one model's full-tier head to the corpus embedded twice: by the model's shipped fp16
encoder and by the fp32 tuning run it was cut from (both embeddings cached by weights hash).
Issue #18 asked for fp16 storage only if scores move by less than 0.005.

    python -m research.fp16_check models/current ~/.cache/eduscore/encoder-<run key>
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eduscore.scoring.embedding import Embedder
from eduscore.scoring.model import TUNED_ENCODER_DIR
from eduscore.scoring.tiers import FULL, load_tiers
from eduscore.training.designs import build_design, signals_of
from eduscore.training.stacked import with_column
from research.harness import CACHE, corpus


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("fp32_encoder", type=Path, help="the tuning run's own (fp32) directory")
    args = ap.parse_args(argv)
    data = corpus()
    head, _, _, lexical = load_tiers(args.model_dir, FULL)
    signals = signals_of(data, progress=False)
    lex = lexical.stacked(data.codes, signals) if lexical is not None else None
    scores = {}
    for name, path in (("fp16", args.model_dir / TUNED_ENCODER_DIR), ("fp32", args.fp32_encoder)):
        x = build_design(Embedder(str(path)), data, signals=signals, cache_dir=CACHE)
        x = with_column(x, np.asarray(lex)) if lex is not None else x
        scores[name] = head.predict(x)
    delta = np.abs(scores["fp16"] - scores["fp32"])
    flips = int(np.sum((scores["fp16"] >= 3.0) != (scores["fp32"] >= 3.0)))
    print(
        f"{len(delta)} units: |score fp16 - fp32| max {delta.max():.4f}, mean {delta.mean():.5f},"
        f" p99 {np.quantile(delta, 0.99):.4f}, over 0.005: {int(np.sum(delta > 0.005))};"
        f" keep decisions that differ: {flips}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
