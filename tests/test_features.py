"""Structural signals: named, finite, and never an exception, whatever the input."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from eduscore.scoring import features

from .snippets import CI_YAML, GENERATED, SETTINGS, TEXTBOOK


def _check(out: dict[str, float]) -> None:
    assert tuple(out) == features.FEATURE_NAMES
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(["", "python", "yaml", "json", "nonsense"]))
def test_any_text_gives_finite_named_signals(code: str, language: str) -> None:
    _check(features.extract(code, language))


@settings(max_examples=100, deadline=None)
@given(st.binary())
def test_binary_junk_decoded_leniently(data: bytes) -> None:
    _check(features.extract(data.decode("utf-8", "replace")))


def test_pathological_inputs() -> None:
    for code in [
        "",
        "\x00" * 100,
        "(" * 5000,
        "x=" + "[" * 3000 + "]" * 3000,
        "a" * 2_000_000,
        "def f(:\n",
        "\ud800",
    ]:
        _check(features.extract(code))


def test_signals_tell_textbook_from_boilerplate() -> None:
    book, gen = features.extract(TEXTBOOK), features.extract(GENERATED)
    assert book["docstring_coverage"] == 1.0 and book["has_doctest"] == 1.0
    assert gen["generated_marker"] == 1.0
    assert features.extract(SETTINGS)["docstring_coverage"] == 0.0
    assert features.extract(CI_YAML)["is_python"] == 0.0


GLUE = '''from ._registry import _lookup
from third_party_sdk import Client


def dispatch(self, request):
    """Dispatch the request."""
    handler = _lookup(self._routes, request.path)
    return Client(self._conn).send(handler(request), timeout=DEFAULT_TIMEOUT)
'''

TUTORIAL = '''def count_words(text):
    """Count how often each word occurs, ignoring case.

    A dictionary maps every word to the number of times we have seen it so far.
    """
    counts = {}
    for word in text.lower().split():
        # get() returns 0 the first time a word appears, so no special case is needed.
        counts[word] = counts.get(word, 0) + 1
    return counts
'''


def test_signals_tell_self_contained_explained_code_from_glue() -> None:
    """The context signals: unseen names, private internals, imports, and explanation."""
    glue, tut = features.extract(GLUE), features.extract(TUTORIAL)
    # GLUE loads six names; only DEFAULT_TIMEOUT is neither defined, imported nor a builtin.
    assert glue["free_name_ratio"] == 1 / 6 and tut["free_name_ratio"] == 0.0
    assert glue["private_ref_ratio"] > tut["private_ref_ratio"] == 0.0
    assert glue["stdlib_import_ratio"] == 0.0 and glue["log_third_party_imports"] > 0.0
    assert tut["stdlib_import_ratio"] == 1.0 and tut["log_third_party_imports"] == 0.0
    # "Dispatch the request." repeats the name; the tutorial's docstring explains.
    assert glue["doc_name_overlap"] == 1 / 3 and tut["doc_name_overlap"] < glue["doc_name_overlap"]
    assert tut["explain_ratio"] > glue["explain_ratio"]
    assert tut["comment_sentence_ratio"] == 1.0 and tut["builtin_call_ratio"] == 0.0


EXPLAINED_YAML = """# Run the tests on every push, so a broken change is caught before it is merged.
name: tests
on: [push]
jobs:
  test:
    # A fresh Ubuntu machine for each run: nothing is left over from the previous one.
    runs-on: ubuntu-latest
    steps:
      # Fetch the repository's code into the machine before anything can use it.
      - uses: actions/checkout@v4
      - run: make test  # the same command a developer runs locally
"""


def test_explanation_signals_read_every_format() -> None:
    """A config file whose comments explain each step scores as explained as Python does;
    the same file without them, or with a bare label as its only comment, does not."""
    bare = "\n".join(
        ln.split("  #")[0] for ln in EXPLAINED_YAML.splitlines() if not ln.lstrip().startswith("#")
    )
    told, plain = features.extract(EXPLAINED_YAML), features.extract(bare)
    assert told["is_yaml"] == plain["is_yaml"] == 1.0
    assert plain["explain_ratio"] == 0.0 and plain["comment_sentence_ratio"] == 0.0
    assert told["explain_ratio"] > 0.3 and told["comment_sentence_ratio"] == 1.0
    assert told["log_comment_words_per_line"] > math.log1p(5)
    labelled = features.extract("# build\nall:\n\tgcc -o app main.c\n")
    assert labelled["is_makefile"] == 1.0 and labelled["comment_sentence_ratio"] == 0.0
    assert 0.0 < labelled["explain_ratio"] < told["explain_ratio"]
