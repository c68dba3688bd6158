"""Every tier's head without scikit-learn: its trees and PCA as plain arrays, run in numpy.

Loading scikit-learn through skops imports every estimator module (and PyTorch with them, when
installed): seconds of start-up and hundreds of MiB, and a file format whose loader must be
trusted to refuse code. `training/compile.py` exports the fitted head (a vote of PCA+trees and trees
pipelines) to `head.npz` (no pickle: `allow_pickle=False`); this module predicts exactly what
the estimator predicts, operation for operation (a test holds it to equality).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from eduscore.errors import ModelLoadError

ARRAYS_FILE = "head.npz"
SPEC_FILE = "head.json"
FORMAT = "eduscore-trees/1"


@dataclass(frozen=True, slots=True)
class Trees:
    """A fitted HistGradientBoostingRegressor: every tree's nodes in one array, roots indexed."""

    feature: npt.NDArray[np.int64]
    threshold: npt.NDArray[np.float64]
    missing_left: npt.NDArray[np.bool_]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    is_leaf: npt.NDArray[np.bool_]
    value: npt.NDArray[np.float64]
    roots: npt.NDArray[np.int64]
    baseline: float
    depth: int

    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """All trees walked at once, one level per step; leaves then summed tree by tree
        (scikit-learn's order, so the float sums agree exactly)."""
        node = np.repeat(self.roots[None, :], len(x), axis=0)
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            inner = ~self.is_leaf[node]
            if not inner.any():
                break
            v = x[rows, self.feature[node]]
            go_left = np.where(np.isnan(v), self.missing_left[node], v <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        leaves = self.value[node]
        out = np.full(len(x), self.baseline, dtype=np.float64)
        for t in range(leaves.shape[1]):
            out += leaves[:, t]
        return out


@dataclass(frozen=True, slots=True)
class Member:
    """One pipeline of the vote: [PCA of the columns from `pca_start` | columns :n_pass], trees."""

    n_pass: int
    trees: Trees
    pca_start: int = -1
    components: npt.NDArray[np.float32] | None = None
    mean: npt.NDArray[np.float32] | None = None

    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        parts = []
        if self.components is not None and self.mean is not None:
            emb = x[:, self.pca_start :]
            projected = emb @ self.components.T
            projected -= self.mean.reshape(1, -1) @ self.components.T
            parts.append(projected)
        parts.append(x[:, : self.n_pass])
        return self.trees.predict(np.hstack(parts).astype(np.float64))


@dataclass(frozen=True, slots=True)
class CompiledHead:
    """The vote: the mean of its members' predictions (VotingRegressor without weights)."""

    members: tuple[Member, ...]
    n_features_in: int

    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        if x.shape[1] != self.n_features_in:
            raise ValueError(f"head expects {self.n_features_in} columns, got {x.shape[1]}")
        x = np.asarray(x, dtype=np.float32)
        return np.average(np.column_stack([m.predict(x) for m in self.members]), axis=1)


def _trees(arrays: dict[str, npt.NDArray], key: str, spec: dict) -> Trees:
    return Trees(
        feature=arrays[f"{key}.feature"].astype(np.int64),
        threshold=arrays[f"{key}.threshold"],
        missing_left=arrays[f"{key}.missing_left"].astype(bool),
        left=arrays[f"{key}.left"].astype(np.int64),
        right=arrays[f"{key}.right"].astype(np.int64),
        is_leaf=arrays[f"{key}.is_leaf"].astype(bool),
        value=arrays[f"{key}.value"],
        roots=arrays[f"{key}.roots"].astype(np.int64),
        baseline=float(spec["baseline"]),
        depth=int(spec["depth"]),
    )


def load_compiled(directory: str | Path) -> CompiledHead:
    """`head.json` + `head.npz` of a model directory; ModelLoadError naming what is wrong."""
    spec_path, arrays_path = Path(directory) / SPEC_FILE, Path(directory) / ARRAYS_FILE
    try:
        spec = json.loads(spec_path.read_text())
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{directory}: cannot read the compiled head: {exc}") from None
    if spec.get("format") != FORMAT:
        raise ModelLoadError(f"{spec_path}: format is not {FORMAT}")
    try:
        members = tuple(
            Member(
                n_pass=int(m["n_pass"]),
                trees=_trees(arrays, f"m{i}", m),
                pca_start=int(m.get("pca_start", -1)),
                components=arrays.get(f"m{i}.components"),
                mean=arrays.get(f"m{i}.mean"),
            )
            for i, m in enumerate(spec["members"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{arrays_path}: incomplete compiled head: {exc}") from None
    return CompiledHead(members=members, n_features_in=int(spec["n_features_in"]))
