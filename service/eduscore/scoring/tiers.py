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
from eduscore.scoring.lexical import STACKED_NAME, LexicalModel
from eduscore.scoring.model import (
    Head,
    bundled_encoder,
    check_compatible,
    load,
    read_metadata,
)

FULL, FAST, CASCADE = "full", "fast", "cascade"
TIERS = (FULL, FAST, CASCADE)
#: Where a model directory keeps its fast tier, and the fast tier its static table.
FAST_DIR = "fast"
STATIC_DIR = "static"


def feature_matrix(
    rows: Sequence[Mapping[str, float]], names: Sequence[str] = features.FEATURE_NAMES
) -> npt.NDArray[np.float32]:
    """Signals as a matrix with columns in `names` order (a model's `feature_names`)."""
    return np.asarray([[row[name] for name in names] for row in rows], dtype=np.float32).reshape(
        len(rows), len(names)
    )


def design_matrix(
    vectors: npt.NDArray[np.float32],
    signals: Sequence[Mapping[str, float]],
    names: Sequence[str] = features.FEATURE_NAMES,
) -> npt.NDArray[np.float32]:
    """What a head reads: [signals | embedding]. Training uses the same function.

    Signals come first so the head can address them by position whatever the encoder's width.
    """
    return np.hstack([feature_matrix(signals, names), vectors]).astype(np.float32, copy=False)


def signal_names(*, stacked: bool) -> list[str]:
    """The signals a model's heads read: the extracted ones, then its stacked estimate."""
    return [*features.FEATURE_NAMES, *([STACKED_NAME] if stacked else [])]


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
        x = design_matrix(encoded.vectors, signals, self.head.feature_names)
        return self.head.predict(x), encoded


def _checked(name: str, embedder: Any, head: Head, names: Sequence[str]) -> Tier:
    check_compatible(
        head,
        encoder_name=embedder.name,
        encoder_dim=embedder.dim,
        encoder_sha256=embedder.sha256,
        feature_names=names,
    )
    return Tier(name, embedder, head)


def load_fast(model_dir: str | Path, names: Sequence[str]) -> Tier | None:
    """The fast tier shipped in `model_dir`, or None if the model has none."""
    from eduscore.scoring.static import StaticEmbedder

    directory = Path(model_dir) / FAST_DIR
    if not (directory / "metadata.json").is_file():
        return None
    head = load(directory)
    path = bundled_encoder(directory, head.metadata)
    if not path:
        raise ModelLoadError(f"{directory}: the fast tier names no static table")
    enc = head.metadata["encoder"]
    static = StaticEmbedder(path, name=enc["name"], max_seq_length=int(enc["max_seq_length"]))
    return _checked(FAST, static, head, names)


def load_full(
    model_dir: str | Path,
    head: Head,
    names: Sequence[str],
    *,
    encoder: str = "",
    **embedder_args: Any,
) -> Tier:
    """The full tier: `encoder` if given, else the directory's fine-tuned encoder, else the
    embedded default; `embedder_args` go to the Embedder (batch size, threads, device)."""
    from eduscore.scoring.embedding import Embedder

    bundled = "" if encoder else bundled_encoder(model_dir, head.metadata)
    name = head.metadata["encoder"]["name"] if bundled else ""
    embedder = Embedder(encoder or bundled, name=name, **embedder_args)
    return _checked(FULL, embedder, head, names)


def cascade_band(metadata: Mapping[str, Any]) -> tuple[float, float] | None:
    """The fast scores the cascade escalates, [lo, hi), from the model's metadata."""
    band = metadata.get("tiers", {}).get(CASCADE, {}).get("band")
    return (float(band[0]), float(band[1])) if band else None


def load_tiers(
    model_dir: str | Path, tier: str = FULL, *, encoder: str = "", **embedder_args: Any
) -> tuple[Head, Tier | None, Tier | None, LexicalModel | None]:
    """The model's head metadata, its full tier (unless `tier` is fast), its fast tier, and the
    lexical model whose estimate both tiers read as a signal (None for models without one)."""
    if tier not in TIERS:
        raise ModelLoadError(f"tier {tier!r}: choose one of {', '.join(TIERS)}")
    # Both heads run from compiled arrays (head.npz): no scikit-learn, no skops at run time.
    # A fast-only process reads the full model's metadata but not its head.
    head = Head(None, read_metadata(model_dir)) if tier == FAST else load(model_dir)
    lexical = LexicalModel.load(model_dir)
    names = signal_names(stacked=lexical is not None)
    fast = load_fast(model_dir, names)
    if fast is None and tier != FULL:
        raise ModelLoadError(
            f"{model_dir}: the model has no fast tier ({FAST_DIR}/), so --tier {tier} cannot"
            " run; retrain with `eduscore train` or serve --tier full"
        )
    if tier != FULL and cascade_band(head.metadata) is None and tier == CASCADE:
        raise ModelLoadError(f"{model_dir}: metadata.json has no tiers.cascade.band")
    full = None
    if tier != FAST:
        full = load_full(model_dir, head, names, encoder=encoder, **embedder_args)
    return head, full, fast, lexical
