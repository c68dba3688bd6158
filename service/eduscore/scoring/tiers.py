"""The tiers of a model directory: each an encoder and the head trained on its embeddings.

A model directory's own head is the `full` tier (transformer encoder). Its `fast/` subdirectory,
when present, is a complete model directory of its own whose encoder is a static table
(`fast/static/`), and metadata.json's `tiers.cascade.band` says which fast scores the cascade
sends on to the full tier. The full encoder, and torch with it, is imported only when loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.errors import ModelLoadError
from eduscore.scoring import features
from eduscore.scoring.model import (
    Head,
    bundled_encoder,
    check_compatible,
    load,
    load_compiled_head,
    read_metadata,
)

FULL, FAST, CASCADE = "full", "fast", "cascade"
TIERS = (FULL, FAST, CASCADE)
#: Where a model directory keeps its fast tier, and the fast tier its static table.
FAST_DIR = "fast"
STATIC_DIR = "static"


def feature_matrix(rows: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float32]:
    """Signals as a matrix with columns in FEATURE_NAMES order."""
    return np.asarray(
        [[row[name] for name in features.FEATURE_NAMES] for row in rows], dtype=np.float32
    ).reshape(len(rows), len(features.FEATURE_NAMES))


def design_matrix(
    vectors: npt.NDArray[np.float32], signals: Sequence[Mapping[str, float]]
) -> npt.NDArray[np.float32]:
    """What a head reads: [signals | embedding]. Training uses the same function.

    Signals come first so the head can address them by position whatever the encoder's width.
    """
    return np.hstack([feature_matrix(signals), vectors]).astype(np.float32, copy=False)


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier: an encoder (transformer or static table) and the head trained on it."""

    name: str
    embedder: Any  # embedding.Embedder or static.StaticEmbedder: encode(texts) -> Encoded
    head: Head

    def predict(
        self, codes: Sequence[str], signals: Sequence[Mapping[str, float]]
    ) -> tuple[npt.NDArray[np.float32], Any]:
        """Scores (0-5) of `codes` whose signals are given, and their encoding."""
        encoded = self.embedder.encode(list(codes))
        return self.head.predict(design_matrix(encoded.vectors, signals)), encoded


def _checked(name: str, embedder: Any, head: Head) -> Tier:
    check_compatible(
        head,
        encoder_name=embedder.name,
        encoder_dim=embedder.dim,
        encoder_sha256=embedder.sha256,
        feature_names=features.FEATURE_NAMES,
    )
    return Tier(name, embedder, head)


def load_fast(model_dir: str | Path) -> Tier | None:
    """The fast tier shipped in `model_dir`, or None if the model has none. Its head runs from
    the compiled arrays (head.npz), so a fast-only process never imports scikit-learn."""
    from eduscore.scoring.static import StaticEmbedder

    directory = Path(model_dir) / FAST_DIR
    if not (directory / "metadata.json").is_file():
        return None
    head = load_compiled_head(directory)
    path = bundled_encoder(directory, head.metadata)
    if not path:
        raise ModelLoadError(f"{directory}: the fast tier names no static table")
    enc = head.metadata["encoder"]
    static = StaticEmbedder(path, name=enc["name"], max_seq_length=int(enc["max_seq_length"]))
    return _checked(FAST, static, head)


def load_full(
    model_dir: str | Path, head: Head, *, encoder: str = "", **embedder_args: Any
) -> Tier:
    """The full tier: `encoder` if given, else the directory's fine-tuned encoder, else the
    embedded default; `embedder_args` go to the Embedder (batch size, threads, device)."""
    from eduscore.scoring.embedding import Embedder

    bundled = "" if encoder else bundled_encoder(model_dir, head.metadata)
    name = head.metadata["encoder"]["name"] if bundled else ""
    return _checked(FULL, Embedder(encoder or bundled, name=name, **embedder_args), head)


def cascade_band(metadata: Mapping[str, Any]) -> tuple[float, float] | None:
    """The fast scores the cascade escalates, [lo, hi), from the model's metadata."""
    band = metadata.get("tiers", {}).get(CASCADE, {}).get("band")
    return (float(band[0]), float(band[1])) if band else None


def load_tiers(
    model_dir: str | Path, tier: str = FULL, *, encoder: str = "", **embedder_args: Any
) -> tuple[Head, Tier | None, Tier | None]:
    """The model's head metadata, its full tier (unless `tier` is fast) and its fast tier."""
    if tier not in TIERS:
        raise ModelLoadError(f"tier {tier!r}: choose one of {', '.join(TIERS)}")
    # A fast-only process reads the model's metadata but never its skops head (scikit-learn).
    head = Head(None, read_metadata(model_dir)) if tier == FAST else load(model_dir)
    fast = load_fast(model_dir)
    if fast is None and tier != FULL:
        raise ModelLoadError(
            f"{model_dir}: the model has no fast tier ({FAST_DIR}/), so --tier {tier} cannot"
            " run; retrain with `eduscore train` or serve --tier full"
        )
    if tier != FULL and cascade_band(head.metadata) is None and tier == CASCADE:
        raise ModelLoadError(f"{model_dir}: metadata.json has no tiers.cascade.band")
    full = None if tier == FAST else load_full(model_dir, head, encoder=encoder, **embedder_args)
    return head, full, fast
