"""ResultCache: a bounded LRU keyed by content and language hint; 0 disables it."""

from __future__ import annotations

import threading

from eduscore.scoring.cache import ResultCache, content_key
from eduscore.scoring.scorer import ScoredSnippet


def _result(score: float) -> ScoredSnippet:
    return ScoredSnippet(id="", score=score, label=0, keep=False, threshold=3.0, model_version="t")


def test_key_depends_on_code_and_language_hint_only() -> None:
    assert content_key("x = 1", "python") == content_key("x = 1", "Python")
    assert content_key("x = 1", "python") != content_key("x = 1", "")
    assert content_key("x = 1", "") != content_key("x = 2", "")
    # The hint and the code are separated: ("a", "b\0c") is not ("a\0b", "c").
    assert content_key("b\0c", "a") != content_key("c", "a\0b")
    assert len(content_key("\udcff lone surrogate", "")) == 32  # never raises on odd text


def test_least_recently_used_entry_is_evicted_first() -> None:
    cache = ResultCache(2)
    a, b, c = (content_key(code, "") for code in "abc")
    cache.put(a, _result(1.0))
    cache.put(b, _result(2.0))
    assert cache.get(a) == _result(1.0)  # a is now the most recent
    cache.put(c, _result(3.0))
    assert cache.get(b) is None and len(cache) == 2
    assert cache.get(a) == _result(1.0) and cache.get(c) == _result(3.0)
    cache.put(a, _result(4.0))  # an update replaces, does not grow
    assert cache.get(a) == _result(4.0) and len(cache) == 2


def test_size_zero_disables_the_cache() -> None:
    cache = ResultCache(0)
    key = content_key("x", "")
    cache.put(key, _result(1.0))
    assert cache.get(key) is None and len(cache) == 0


def test_concurrent_use_keeps_the_bound() -> None:
    cache = ResultCache(50)
    keys = [content_key(f"v = {i}", "") for i in range(400)]

    def work(offset: int) -> None:
        for i in range(2000):
            key = keys[(i * 7 + offset) % len(keys)]
            cache.put(key, _result(float(i)))
            cache.get(keys[(i + offset) % len(keys)])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(cache) == 50
