"""Export a fitted head (heads.EduScoreHead's estimator) to scoring/trees.py's plain arrays:
what every tier serves from, so serving never deserialises a scikit-learn object.

Only the structures EduScoreHead builds are accepted: a VotingRegressor of, or one, Pipeline of
a ColumnTransformer (an optional PCA on the embedding columns, the signals passed through) and
a HistGradientBoostingRegressor without categorical splits. Anything else is refused rather
than approximated. `python -m eduscore.training.compile MODEL_DIR...` re-exports a saved model
from its `head.skops`, read with an allow-list of exactly the types such a head is made of.
"""

from __future__ import annotations

import json
import sys
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eduscore.errors import ModelLoadError
from eduscore.scoring.model import HEAD_FILE
from eduscore.scoring.trees import ARRAYS_FILE, FORMAT, SPEC_FILE

#: Every type (module.name) in a skops file of an EduScoreHead estimator: containers, NumPy
#: arrays and scalars, and the scikit-learn classes its vote of pipelines is built from.
HEAD_TYPES = frozenset(
    {
        *(f"builtins.{t}" for t in ("dict", "list", "slice", "str", "tuple")),
        *(f"numpy.{t}" for t in ("ndarray", "float32", "float64", "int32", "int64", "uint64")),
        "numpy.random._generator.Generator",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.decomposition._pca.PCA",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._voting.VotingRegressor",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._function_transformer.FunctionTransformer",
        "sklearn.utils._bunch.Bunch",
    }
)
#: How skops rebuilds each node of such a file; a function or method node (which names code to
#: call) is refused whatever type it claims.
HEAD_LOADERS = frozenset(
    {
        *("DictNode", "ListNode", "TupleNode", "SliceNode", "JsonNode", "TypeNode"),
        *("NdArrayNode", "RandomGeneratorNode", "LossNode", "ObjectNode"),
    }
)


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


def _named_types(node: Any) -> Iterator[str]:
    """Every `module.name` and every `loader:Name` a skops schema names, at any depth."""
    if isinstance(node, dict):
        if "__module__" in node or "__class__" in node:
            yield f"{node.get('__module__')}.{node.get('__class__')}"
        if "__loader__" in node and node["__loader__"] not in HEAD_LOADERS:
            yield f"loader:{node['__loader__']}"
            content = node.get("content")
            if isinstance(content, dict) and "function" in content:  # a function node's target
                yield f"{content.get('module_path')}.{content['function']}"
        for value in node.values():
            yield from _named_types(value)
    elif isinstance(node, list):
        for value in node:
            yield from _named_types(value)


def load_estimator(path: str | Path) -> Any:
    """A head's estimator from its skops file, refusing (ModelLoadError, before any object is
    built) a file that names any type outside HEAD_TYPES: `builtins.exec`, `os.system`, ..."""
    import skops.io as sio
    from sklearn.exceptions import InconsistentVersionWarning

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: missing classifier file") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{path}: not a skops file: {exc}") from None
    refused = sorted(set(_named_types(schema)) - HEAD_TYPES)
    if refused:
        raise ModelLoadError(f"{path}: refuses to load types a head is not made of: {refused}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            return sio.load(path, trusted=sorted(HEAD_TYPES))
    except InconsistentVersionWarning as exc:
        raise ModelLoadError(f"{path}: trained with another scikit-learn: {exc}") from None
    except Exception as exc:
        raise ModelLoadError(f"{path}: cannot load classifier: {exc}") from None


def recompile(directory: str | Path) -> None:
    """Write `head.json` + `head.npz` of a saved model directory from its `head.skops`."""
    export(load_estimator(Path(directory) / HEAD_FILE), directory)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m eduscore.training.compile DIR...`: recompile each model directory."""
    dirs = list(sys.argv[1:] if argv is None else argv)
    if not dirs:
        print("usage: python -m eduscore.training.compile MODEL_DIR...", file=sys.stderr)
        return 2
    for directory in dirs:
        recompile(directory)
        print(f"{directory}: wrote {SPEC_FILE} and {ARRAYS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
