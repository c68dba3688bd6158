"""Export a fitted head (heads.EduScoreHead's estimator) to scoring/trees.py's plain arrays.

Only the structures EduScoreHead builds are accepted: a VotingRegressor of, or one, Pipeline of
a ColumnTransformer (an optional PCA on the embedding columns, the signals passed through) and
a HistGradientBoostingRegressor without categorical splits. Anything else is refused rather
than approximated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from eduscore.scoring.trees import ARRAYS_FILE, FORMAT, SPEC_FILE


def _trees(hgb: Any, key: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if hgb.n_trees_per_iteration_ != 1:
        raise ValueError("only single-output regressors can be compiled")
    nodes, roots, offset = [], [], 0
    for (predictor,) in hgb._predictors:
        n = predictor.nodes
        if n["is_categorical"].any():
            raise ValueError("categorical splits cannot be compiled")
        shifted = n.copy()
        shifted["left"] += offset
        shifted["right"] += offset
        roots.append(offset)
        nodes.append(shifted)
        offset += len(n)
    allnodes = np.concatenate(nodes)
    arrays[f"{key}.feature"] = allnodes["feature_idx"].astype(np.int32)
    arrays[f"{key}.threshold"] = allnodes["num_threshold"].astype(np.float64)
    arrays[f"{key}.missing_left"] = allnodes["missing_go_to_left"].astype(np.uint8)
    arrays[f"{key}.left"] = allnodes["left"].astype(np.int32)
    arrays[f"{key}.right"] = allnodes["right"].astype(np.int32)
    arrays[f"{key}.is_leaf"] = allnodes["is_leaf"].astype(np.uint8)
    arrays[f"{key}.value"] = allnodes["value"].astype(np.float64)
    arrays[f"{key}.roots"] = np.asarray(roots, dtype=np.int32)
    baseline = np.asarray(hgb._baseline_prediction, dtype=np.float64).ravel()
    return {"baseline": float(baseline[0]), "depth": int(allnodes["depth"].max()) + 1}


def _member(pipeline: Any, i: int, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    from sklearn.decomposition import PCA

    columns, hgb = pipeline.named_steps["columns"], pipeline.named_steps["trees"]
    spec: dict[str, Any] = {}
    names = [name for name, _, _ in columns.transformers_ if name != "remainder"]
    for name, transformer, cols in columns.transformers_:
        if name == "remainder":
            continue
        if isinstance(transformer, PCA):
            if transformer.whiten or names[0] != name:
                raise ValueError("only an unwhitened PCA placed first can be compiled")
            spec["pca_start"] = int(cols.start)
            arrays[f"m{i}.components"] = transformer.components_
            arrays[f"m{i}.mean"] = transformer.mean_
        elif cols.start in (0, None):
            spec["n_pass"] = int(cols.stop)
        else:
            raise ValueError(f"column block {name!r} cannot be compiled")
    spec.update(_trees(hgb, f"m{i}", arrays))
    return spec


def export(estimator: Any, directory: str | Path) -> None:
    """Write `head.json` + `head.npz` for `estimator` into `directory`."""
    from sklearn.ensemble import VotingRegressor

    if isinstance(estimator, VotingRegressor):
        if estimator.weights is not None:
            raise ValueError("weighted votes cannot be compiled")
        pipelines = list(estimator.estimators_)
    else:
        pipelines = [estimator]
    arrays: dict[str, np.ndarray] = {}
    members = [_member(p, i, arrays) for i, p in enumerate(pipelines)]
    spec = {"format": FORMAT, "n_features_in": int(estimator.n_features_in_), "members": members}
    np.savez_compressed(Path(directory) / ARRAYS_FILE, **arrays)
    (Path(directory) / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
