"""The shared harness: the corpus, its cached designs, and one grouped-CV run of a head.

Every experiment here runs the package's own `cross_validate` on the same outer folds as
`eduscore train`, so a row's baseline reproduces the shipped card.

    python -m research.harness            # the shipped recipe on the frozen encoder
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from eduscore.scoring.embedding import Embedder
from eduscore.training.cv import CVResult, cross_validate
from eduscore.training.data import LabelledSet, read_labelled
from eduscore.training.designs import build_design, signals_of
from eduscore.training.evaluation import headline
from eduscore.training.heads import EduScoreHead

CORPUS = Path(os.environ.get("EDUSCORE_CORPUS", "../shared/data/edu-annotations/corpus.jsonl"))
CACHE = Path(os.environ.get("EDUSCORE_CACHE", os.path.expanduser("~/.cache/eduscore")))


def corpus() -> LabelledSet:
    return read_labelled(CORPUS)


def frozen_design(data: LabelledSet, encoder: str = "") -> np.ndarray:
    """[signals | embedding] with the frozen encoder (embeddings cached by weights and texts)."""
    return build_design(Embedder(encoder), data, signals=signals_of(data), cache_dir=CACHE)


def shipped_designs(data: LabelledSet) -> list[np.ndarray]:
    """The CV designs of `make train`, one per outer fold: [signals | lexical estimate |
    embedding by the encoder tuned on that fold's training packages] (tuned encoders and
    embeddings come from the cache when `eduscore train --finetune` ran; ~1 h cold)."""
    from eduscore.training.designs import tuned_encoder
    from eduscore.training.finetune import FinetuneConfig
    from eduscore.training.folds import outer_splits
    from eduscore.training.stacked import lexical_signal

    base, signals = Embedder(""), signals_of(data, progress=False)
    tuned = [
        build_design(
            tuned_encoder(base, data, tr, FinetuneConfig(), cache_dir=CACHE, progress=False),
            data, signals=signals, cache_dir=CACHE, progress=False,
        )
        for tr, _ in outer_splits(data.groups, 5)
    ]  # fmt: skip
    return lexical_signal(data, signals, 5).designs(tuned)


def run(name: str, head: EduScoreHead, x: Any, data: LabelledSet) -> CVResult:
    """One grouped-CV row: printed as the pooled headline and the per-language F1/Spearman."""
    result = cross_validate(head, x, data, progress=False)
    m = result.metrics
    langs = "  ".join(
        f"{k.split('/')[0]} {v['f1_keep']:.2f}/{v['spearman']:.2f}"
        for k, v in m["per_language"].items()
    )
    print(f"{name}: {headline(m)}\n    {langs}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    data = corpus()
    run("shipped recipe, frozen encoder", EduScoreHead(), frozen_design(data), data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
