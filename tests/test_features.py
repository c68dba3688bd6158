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
