"""StaticEmbedder: the fast tier's encoder. A model2vec table of token vectors, mean-pooled.

No transformer runs and torch is never imported: a snippet costs one tokenizer call and a
weighted mean of table rows, so the fast tier's cost is the signals', not the encoder's.
The table is distilled offline from the full tier's encoder (training/fast.py).
Only its header is read when loaded; the table (read in slices, never held twice) and the
tokenizer load at the first `encode`, so a server whose worker processes do the encoding
(serving/pool.py) holds them only there.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.errors import ModelLoadError
from eduscore.scoring.embedding import Encoded

WEIGHTS_FILE = "model.safetensors"
#: Tokens read per snippet. A token costs one table lookup, so the fast tier reads far more of
#: a file than the encoder's 256; past this a file's head already says what it is.
MAX_TOKENS = 2048
#: safetensors dtypes a model2vec table is stored in.
_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
_TENSORS = ("embeddings", "weights")
#: Table rows converted per read (4 MiB of float16 at 1,024 dimensions).
_ROWS_PER_READ = 2048


def table_sha256(path: str | Path) -> str:
    """Identity of a static model: the hash of its table (streamed, never read whole)."""
    file = Path(path) / WEIGHTS_FILE
    try:
        with file.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise ModelLoadError(f"{file}: cannot read the static embedding table: {exc}") from None


def _header(file: Path) -> tuple[int, dict[str, Any]]:
    """The safetensors header: where the data starts, and each tensor's dtype, shape, offsets."""
    with file.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        return 8 + size, json.loads(f.read(size))


def _tensor(file: Path, start: int, meta: dict[str, Any]) -> npt.NDArray[Any]:
    """A small tensor (the SIF weights), whole."""
    lo, hi = meta["data_offsets"]
    with file.open("rb") as f:
        f.seek(start + lo)
        return np.frombuffer(f.read(hi - lo), dtype=_DTYPES[meta["dtype"]]).reshape(meta["shape"])


def _table(file: Path, start: int, meta: dict[str, Any], scale: npt.NDArray[Any] | None) -> Any:
    """The embedding table as float32 with each row times its SIF weight (model2vec's own
    arithmetic: both cast to float32, then multiplied), read a slice of rows at a time."""
    rows, dim = meta["shape"]
    dtype = np.dtype(_DTYPES[meta["dtype"]])
    weights = None if scale is None else np.asarray(scale, dtype=np.float32)[:, None]
    table = np.empty((rows, dim), dtype=np.float32)
    with file.open("rb") as f:
        f.seek(start + meta["data_offsets"][0])
        for i in range(0, rows, _ROWS_PER_READ):
            j = min(rows, i + _ROWS_PER_READ)
            part = np.frombuffer(f.read((j - i) * dim * dtype.itemsize), dtype=dtype)
            table[i:j] = part.reshape(j - i, dim)
            if weights is not None:
                table[i:j] *= weights[i:j]
    return table


class StaticEmbedder:
    """A model2vec directory loaded for encoding, with the Embedder's interface.

    Args:
        path: model2vec directory (model.safetensors, tokenizer.json, config.json).
        name: what to call it (reported by GetModelInfo).
        max_seq_length: tokens read per snippet; longer snippets are `truncated`.
    """

    def __init__(self, path: str, *, name: str = "", max_seq_length: int = MAX_TOKENS) -> None:
        directory = Path(path)
        file = directory / WEIGHTS_FILE
        if not file.is_file():
            raise ModelLoadError(f"{path}: no {WEIGHTS_FILE}; is it a model2vec directory?")
        try:
            start, header = _header(file)
            config = json.loads((directory / "config.json").read_text())
            shape = header["embeddings"]["shape"] if "embeddings" in header else None
            known = all(
                header[k]["dtype"] in _DTYPES for k in ("embeddings", "weights") if k in header
            )
        except Exception as exc:  # any loader failure is a startup error naming the path
            raise ModelLoadError(f"{path}: cannot load the static embeddings: {exc}") from exc
        if "mapping" in header or shape is None or len(shape) != 2 or not known:
            raise ModelLoadError(f"{path}: only plain (unquantized) model2vec tables load")
        if not (directory / "tokenizer.json").is_file():
            raise ModelLoadError(f"{path}: no tokenizer.json beside the table")
        self.path = path
        self.name = name or directory.name
        self.max_seq_length = max_seq_length
        self._file, self._start, self._header = file, start, header
        self._normalize = bool(config.get("normalize", True))
        self._loaded: tuple[Any, Any, int | None, int] | None = None
        self._lock = threading.Lock()
        self.dim = int(shape[1])
        self.sha256 = table_sha256(path)

    def _load(self) -> tuple[Any, Any, int | None, int]:
        """(table, tokenizer, unknown token id, characters per token), read once."""
        with self._lock:
            if self._loaded is None:
                try:
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_file(str(Path(self.path) / "tokenizer.json"))
                    weights = self._header.get("weights")
                    scale = None if weights is None else _tensor(self._file, self._start, weights)
                    table = _table(self._file, self._start, self._header["embeddings"], scale)
                except Exception as exc:
                    raise ModelLoadError(
                        f"{self.path}: cannot load the static embeddings: {exc}"
                    ) from exc
                vocab = tokenizer.get_vocab()
                unk = getattr(tokenizer.model, "unk_token", None)
                # model2vec cuts a text to this many characters per token before tokenizing.
                chars = int(np.median([len(t) for t in vocab]))
                self._loaded = (table, tokenizer, vocab.get(unk) if unk else None, chars)
            return self._loaded

    def _ids(self, texts: Sequence[str], limit: int) -> list[list[int]]:
        """Token ids as model2vec's StaticModel.tokenize makes them (unknown tokens dropped)."""
        _, tokenizer, unk, chars_per_token = self._load()
        cut = [t[: limit * chars_per_token] for t in texts]
        encodings = tokenizer.encode_batch_fast(cut, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        if unk is not None:
            ids = [[i for i in row if i != unk] for row in ids]
        return [row[:limit] for row in ids]

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Mean of the token vectors of each text's first `max_seq_length` tokens."""
        # One token past the limit tells a truncated text from one that just fits.
        ids = self._ids(texts, self.max_seq_length + 1)
        table = self._load()[0]
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, tokens in enumerate(ids):
            if tokens:
                vectors[row] = table[tokens[: self.max_seq_length]].mean(axis=0)
        if self._normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            np.divide(vectors, norms, out=vectors, where=norms > 0)
        n_tokens = [len(t) for t in ids]
        truncated = [n > self.max_seq_length for n in n_tokens]
        return Encoded(vectors=vectors, n_tokens=n_tokens, truncated=truncated)
