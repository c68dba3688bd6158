"""Scorer with the real model: order, ids, thresholds, batch vs alone; failed signals counted."""

from __future__ import annotations

import logging

import pytest

from eduscore import metrics
from eduscore.scoring import features, signal_errors
from eduscore.scoring.scorer import Scorer, Snippet, to_label

from .snippets import GENERATED, SETTINGS, SMALL, TEXTBOOK

TOL = 1e-6  # the style guide's oracle bound (scores are float32; batching moves no bit)


def test_results_keep_input_order_ids_and_match_each_snippet_alone(scorer: Scorer) -> None:
    codes = [TEXTBOOK, SETTINGS, GENERATED, *SMALL]
    snippets = [Snippet(id=f"id{i}", code=c) for i, c in enumerate(codes)]
    together = scorer.score_batch(snippets)
    assert [r.id for r in together] == [s.id for s in snippets]
    for snip, got in zip(snippets, together, strict=True):
        (alone,) = scorer.score_batch([snip])
        assert got.score == pytest.approx(alone.score, abs=TOL)
        assert got.n_tokens == alone.n_tokens and got.language == alone.language
        assert got.label == to_label(got.score) and 0.0 <= got.score <= 5.0
        assert list(got.signals) == scorer.signal_names
    assert len({r.n_tokens for r in together}) > 1  # they really are different snippets


def test_threshold_decides_keep_and_empty_input_is_empty(scorer: Scorer) -> None:
    (r,) = scorer.score_batch([Snippet(code=TEXTBOOK)])
    (low,) = scorer.score_batch([Snippet(code=TEXTBOOK)], threshold=r.score - 0.01)
    (high,) = scorer.score_batch([Snippet(code=TEXTBOOK)], threshold=min(r.score + 0.01, 5.0))
    assert low.keep and not high.keep and low.score == high.score
    assert r.at_threshold(0.0, id="x").keep and r.at_threshold(0.0, id="x").id == "x"
    assert scorer.score_batch([]) == []


class _Unprintable:
    """Not a str, and str() of it fails: extract's fallback path, taken for real."""

    def __str__(self) -> str:
        raise ValueError("cannot render")


def _errors(language: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("eduscore_signal_errors_total", {"language": language})
        or 0.0
    )


def test_failed_signal_extraction_is_counted_every_time_and_logged_once(caplog) -> None:
    before_python, before_auto = _errors("python"), _errors("auto")
    with caplog.at_level(logging.WARNING, logger="eduscore.scoring.features"):
        first = features.extract(_Unprintable(), "python")  # type: ignore[arg-type]
        features.extract(_Unprintable(), "python")  # type: ignore[arg-type]
        features.extract(_Unprintable(), "")  # type: ignore[arg-type]
    assert first == {**dict.fromkeys(features.FEATURE_NAMES, 0.0), "is_text": 1.0}
    assert _errors("python") == before_python + 2 and _errors("auto") == before_auto + 1
    logged = [r for r in caplog.records if "signal extraction failed" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert "ValueError" in logged[0].getMessage() and logged[0].exc_info is not None


def test_signal_error_labels_are_bounded() -> None:
    assert signal_errors._label("") == "auto"
    assert signal_errors._label("yaml") == "yaml"
    assert signal_errors._label("x" * 40) == "other" and signal_errors._label("c++") == "other"
    assert signal_errors._label(None) == "auto" and signal_errors._label(3) == "other"
