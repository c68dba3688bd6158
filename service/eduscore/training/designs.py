"""The head's input for labelled data: [signals | embedding], built exactly as served."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from eduscore.scoring import features
from eduscore.scoring.embedding import Embedder
from eduscore.scoring.scorer import design_matrix
from eduscore.training.data import LabelledSet
from eduscore.training.finetune import FinetuneConfig, finetune_encoder
from eduscore.training.folds import outer_splits


def embed_texts(
    embedder: Embedder,
    codes: list[str],
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> npt.NDArray[np.float32]:
    """Embeddings of `codes`, cached on disk by (encoder weights, texts) so reruns are instant."""
    key = hashlib.sha256(embedder.sha256.encode())
    for code in codes:
        key.update(hashlib.sha256(code.encode("utf-8", "surrogatepass")).digest())
    cache = Path(cache_dir) / f"emb-{key.hexdigest()[:24]}.npy" if cache_dir else None
    if cache is not None and cache.is_file():
        return np.load(cache, allow_pickle=False)
    step = 64
    parts = []
    for start in tqdm(
        range(0, len(codes), step), desc="embedding", unit="batch", disable=not progress
    ):
        parts.append(embedder.encode(codes[start : start + step]).vectors)
    vectors = np.vstack(parts) if parts else np.zeros((0, embedder.dim), np.float32)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors, allow_pickle=False)
    return vectors


def signals_of(data: LabelledSet, progress: bool = True) -> list[dict[str, float]]:
    """Every unit's signals, with its language as the hint a pipeline sends (from the file name;
    the Scorer passes a request's `language` the same way, and the text overrules a wrong one)."""
    pairs = zip(data.codes, data.languages, strict=True)
    return [
        features.extract(code, lang)
        for code, lang in tqdm(pairs, total=len(data), desc="signals", disable=not progress)
    ]


def build_design(
    embedder: Embedder,
    data: LabelledSet,
    *,
    signals: list[dict[str, float]] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> npt.NDArray[np.float32]:
    """[signals | embedding] for every unit (signals computed unless given)."""
    signals = signals if signals is not None else signals_of(data, progress)
    vectors = embed_texts(embedder, data.codes, cache_dir=cache_dir, progress=progress)
    return design_matrix(vectors, signals)


def tuned_encoder(
    base: Embedder,
    data: LabelledSet,
    index: Any,
    cfg: FinetuneConfig,
    *,
    cache_dir: str | Path,
    progress: bool = True,
) -> Embedder:
    """`base` tuned on the units at `index` (cached by run key), loaded for embedding."""
    path = finetune_encoder(
        base.path,
        base.sha256,
        [data.codes[j] for j in index],
        data.labels[index],
        cache_dir,
        cfg,
        progress=progress,
        desc=f"tune on {len(index)} units",
    )
    return Embedder(str(path))


def tuned_designs(
    base: Embedder,
    data: LabelledSet,
    cfg: FinetuneConfig,
    *,
    n_splits: int,
    cache_dir: str | Path,
    signals: list[dict[str, float]] | None = None,
    progress: bool = True,
) -> list[npt.NDArray[np.float32]]:
    """One design per outer fold, from an encoder tuned on that fold's training packages only:
    the held-out packages' labels never reach the encoder that embeds them."""
    signals = signals if signals is not None else signals_of(data, progress)
    designs = []
    for tr, _ in outer_splits(data.groups, n_splits):
        encoder = tuned_encoder(base, data, tr, cfg, cache_dir=cache_dir, progress=progress)
        designs.append(
            build_design(encoder, data, signals=signals, cache_dir=cache_dir, progress=progress)
        )
    return designs
