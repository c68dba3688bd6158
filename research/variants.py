"""Head variants on the same cached designs and folds (rows of models/EXPERIMENTS.md).

    python -m research.variants                 # all
    python -m research.variants shipped pca32   # some
"""

from __future__ import annotations

import argparse

from eduscore.training.heads import EduScoreHead
from research.harness import corpus, frozen_design, run

VARIANTS = {
    "shipped": {},
    "signals_only": {"n_components": 0},
    "pca8": {"n_components": 8},
    "pca32": {"n_components": 32},
    "pca64": {"n_components": 64},
    "deeper": {"max_leaf_nodes": 31, "max_iter": 400},
    "slower": {"learning_rate": 0.03, "max_iter": 600},
    "leaf10": {"min_samples_leaf": 10},
    "ridge10": {"embedding_ridge": 10.0},
    "ridge100": {"embedding_ridge": 100.0},
    "ridge100_pca32": {"embedding_ridge": 100.0, "n_components": 32},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=list(VARIANTS))
    args = ap.parse_args(argv)
    data = corpus()
    x = frozen_design(data)
    for name in args.names:
        run(name, EduScoreHead(**VARIANTS[name]), x, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
