"""Fast-tier experiments: static (model2vec) embeddings + signals, and the cascade band.

    EDUSCORE_CACHE=/work/cache python -m research.fast_tier --static /work/cache/m2v-256

Each row is a grouped-CV run on the same outer folds as `eduscore train`; the cascade rows
combine the fast tier's out-of-fold scores with the shipped model's (`models/current/oof.json`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from eduscore.scoring.scorer import design_matrix
from eduscore.training.cascade import cascade_scores, fit_band
from eduscore.training.evaluation import compute_metrics, headline
from eduscore.training.heads import EduScoreHead
from research.harness import CACHE, corpus, run


def static_vectors(path: str, codes: list[str]) -> np.ndarray:
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(path)
    return np.asarray(model.encode(codes, max_length=2048), dtype=np.float32)


def cached_signals(data) -> list[dict[str, float]]:
    from eduscore.training.designs import signals_of

    path = CACHE / f"signals-{data.sha256[:12]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    sig = signals_of(data)
    path.write_text(json.dumps(sig))
    return sig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static", required=True)
    parser.add_argument("--components", type=int, nargs="*", default=[16])
    args = parser.parse_args(argv)
    data = corpus()
    signals = cached_signals(data)
    x = design_matrix(static_vectors(args.static, data.codes), signals)
    full_oof = np.asarray(json.loads(Path("models/current/oof.json").read_text())["scores"])
    print("full (shipped oof):", headline(compute_metrics(data.labels, full_oof)))
    for k in args.components:
        res = run(f"fast {Path(args.static).name} pca{k}", EduScoreHead(n_components=k), x, data)
        np.save(CACHE / f"fast-oof-{Path(args.static).name}-{k}.npy", res.oof)
        for tol in (0.0, 0.005, 0.01):
            band = fit_band(res.oof, full_oof, tolerance=tol)
            mixed, share = cascade_scores(res.oof, full_oof, band)
            print(f"  cascade tol {tol}: band {band} escalated {share:.3f}:",
                  headline(compute_metrics(data.labels, mixed)))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
