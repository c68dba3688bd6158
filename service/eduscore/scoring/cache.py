"""Content-hash LRU of recent results: corpora repeat files, and a repeat costs no model call."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from eduscore.scoring.scorer import ScoredSnippet


def content_key(code: str, language: str, tier: str = "") -> bytes:
    """Key of a snippet's content: the same code with the same hint and tier scores the same
    (callers resolve the tier first, so a default and its explicit name share entries)."""
    hint = language.lower().encode("utf-8", "surrogatepass")
    name = tier.encode()
    # Length-prefixed, so no (hint, tier, code) triple can collide by moving a separator.
    digest = hashlib.sha256(len(hint).to_bytes(4, "big") + hint + len(name).to_bytes(4, "big"))
    digest.update(name)
    digest.update(code.encode("utf-8", "surrogatepass"))
    return digest.digest()


class ResultCache:
    """Thread-safe LRU bounded in entries; `max_entries=0` disables it."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[bytes, ScoredSnippet] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes) -> ScoredSnippet | None:
        if not self.max_entries:
            return None
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: bytes, result: ScoredSnippet) -> None:
        if not self.max_entries:
            return
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
