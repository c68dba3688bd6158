"""StaticEmbedder: the fast tier's encoder. A model2vec table of token vectors, mean-pooled.

No transformer runs and torch is never imported: a snippet costs one tokenizer call and a
weighted mean of table rows, so the fast tier's cost is the signals', not the encoder's.
The table is distilled offline from the full tier's encoder (training/fast.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eduscore.errors import ModelLoadError
from eduscore.scoring.embedding import Encoded

WEIGHTS_FILE = "model.safetensors"
#: Tokens read per snippet. A token costs one table lookup, so the fast tier reads far more of
#: a file than the encoder's 256; past this a file's head already says what it is.
MAX_TOKENS = 2048


def table_sha256(path: str | Path) -> str:
    """Identity of a static model: the hash of its table."""
    file = Path(path) / WEIGHTS_FILE
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelLoadError(f"{file}: cannot read the static embedding table: {exc}") from None


class StaticEmbedder:
    """A model2vec directory loaded for encoding, with the Embedder's interface.

    Args:
        path: model2vec directory (model.safetensors, tokenizer.json, config.json).
        name: what to call it (reported by GetModelInfo).
        max_seq_length: tokens read per snippet; longer snippets are `truncated`.
    """

    def __init__(self, path: str, *, name: str = "", max_seq_length: int = MAX_TOKENS) -> None:
        directory = Path(path)
        if not (directory / WEIGHTS_FILE).is_file():
            raise ModelLoadError(f"{path}: no {WEIGHTS_FILE}; is it a model2vec directory?")
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            tensors = load_file(str(directory / WEIGHTS_FILE))
            self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
            config = json.loads((directory / "config.json").read_text())
        except Exception as exc:  # any loader failure is a startup error naming the path
            raise ModelLoadError(f"{path}: cannot load the static embeddings: {exc}") from exc
        if "mapping" in tensors or "embeddings" not in tensors:
            raise ModelLoadError(f"{path}: only plain (unquantized) model2vec tables load")
        self.path = path
        self.name = name or directory.name
        self.max_seq_length = max_seq_length
        self._table = np.asarray(tensors["embeddings"], dtype=np.float32)
        if "weights" in tensors:  # SIF weights folded into the table once, not per snippet
            self._table *= np.asarray(tensors["weights"], dtype=np.float32)[:, None]
        self._normalize = bool(config.get("normalize", True))
        vocab = self._tokenizer.get_vocab()
        unk = getattr(self._tokenizer.model, "unk_token", None)
        self._unk = vocab.get(unk) if unk is not None else None
        # model2vec cuts a text to this many characters per token before tokenizing.
        self._chars_per_token = int(np.median([len(t) for t in vocab]))
        self.dim = int(self._table.shape[1])
        self.sha256 = table_sha256(path)

    def _ids(self, texts: Sequence[str], limit: int) -> list[list[int]]:
        """Token ids as model2vec's StaticModel.tokenize makes them (unknown tokens dropped)."""
        cut = [t[: limit * self._chars_per_token] for t in texts]
        encodings = self._tokenizer.encode_batch_fast(cut, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        if self._unk is not None:
            ids = [[i for i in row if i != self._unk] for row in ids]
        return [row[:limit] for row in ids]

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Mean of the token vectors of each text's first `max_seq_length` tokens."""
        # One token past the limit tells a truncated text from one that just fits.
        ids = self._ids(texts, self.max_seq_length + 1)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, tokens in enumerate(ids):
            if tokens:
                vectors[row] = self._table[tokens[: self.max_seq_length]].mean(axis=0)
        if self._normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            np.divide(vectors, norms, out=vectors, where=norms > 0)
        n_tokens = [len(t) for t in ids]
        truncated = [n > self.max_seq_length for n in n_tokens]
        return Encoded(vectors=vectors, n_tokens=n_tokens, truncated=truncated)
