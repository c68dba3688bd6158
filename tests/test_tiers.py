"""The tiers in-process: fast and full on the same snippets, the cascade's routing, the band."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eduscore.errors import TierUnavailable
from eduscore.scoring.bands import CascadeBands
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.training import cascade
from eduscore.training.fast import CASCADE_TOLERANCE

from .conftest import CORPUS, MODEL_DIR
from .snippets import SETTINGS, TEXTBOOK

HAS_FAST = (MODEL_DIR / "fast" / "metadata.json").is_file()
needs_fast = pytest.mark.skipif(not HAS_FAST, reason="the shipped model has no fast tier")


def corpus_snippets(n: int, step: int = 37) -> list[Snippet]:
    rows = [json.loads(line) for line in CORPUS.open()][::step][:n]
    return [Snippet(id=r["id"], code=r["code"]) for r in rows]


def test_band_is_the_narrowest_that_decides_as_the_full_tier() -> None:
    full = np.array([0, 1, 2, 3, 4, 5, 2, 3], dtype=np.float64)
    # The fast tier decides otherwise on two borderline units only (2 -> 3.1 and 3 -> 2.9).
    fast = np.array([0, 1, 3.1, 3.4, 4, 5, 2, 2.9])
    lo, hi = cascade.fit_band(fast, full)
    mixed, share = cascade.cascade_scores(fast, full, (lo, hi))
    assert cascade.disagreement(mixed, full) == 0.0  # both escalated, decided as full
    assert lo <= 2.9 and hi > 3.1 and share <= 3 / 8  # ... and little else
    # One differing decision in eight allowed: the narrower band that fixes only one of them.
    lo1, hi1 = cascade.fit_band(fast, full, tolerance=1 / 8)
    assert cascade.cascade_scores(fast, full, (lo1, hi1))[1] == 1 / 8
    # A fast tier that decides as the full one everywhere escalates nothing.
    assert cascade.cascade_scores(full, full, cascade.fit_band(full, full))[1] == 0.0


def test_a_band_is_fitted_for_each_keep_line() -> None:
    # The tiers disagree on two units near 2.0 and two near 4.0, and nowhere near 3.0.
    full = np.array([0.5, 1.0, 1.9, 2.1, 3.0, 3.9, 4.1, 5.0])
    fast = np.array([0.5, 1.0, 2.05, 1.95, 3.0, 4.05, 3.95, 5.0])
    rows = cascade.fit_bands(fast, full, tolerance=0.0, lines=(2.0, 3.0, 4.0))
    at = {r["threshold"]: r for r in rows}
    for line in (2.0, 4.0):
        band = tuple(at[line]["band"])
        assert at[line]["disagreement"] == 0.0 and at[line]["escalated_share"] == 2 / 8, band
        assert cascade.escalated(fast, band).tolist() == list(abs(full - line) < 0.2)
    assert at[3.0]["escalated_share"] == 0.0  # nothing to fix there
    # The band of one line does not serve another: 3.0's leaves both units at 2.0 differing.
    mixed, _ = cascade.cascade_scores(fast, full, tuple(at[3.0]["band"]))
    assert cascade.disagreement(mixed, full, 2.0) == 2 / 8


def test_between_fitted_lines_each_side_reaches_as_far_as_either_neighbour() -> None:
    bands = CascadeBands.fitted([(2.5, (2.0, 2.6)), (2.0, (1.9, 2.2))])
    assert bands.band_for(2.0) == (1.9, 2.2) and bands.band_for(2.5) == (2.0, 2.6)
    assert bands.band_for(2.25) == (1.75, 2.45)  # 0.5 below (2.5's), 0.2 above (2.0's)
    assert bands.band_for(1.0) == (0.9, 1.2) and bands.band_for(3.0) == (2.5, 3.1)  # nearest
    # A model trained before the bands had one band, applied at every threshold.
    old = CascadeBands.from_metadata({"tiers": {"cascade": {"band": [2.55, 3.15]}}})
    assert old is not None and old.band_for(3.5) == old.band_for(2.5) == (2.55, 3.15)
    assert CascadeBands.from_metadata({"tiers": {}}) is None


@needs_fast
def test_the_shipped_cascade_decides_as_the_full_tier_wherever_the_line_is() -> None:
    """Out of fold, the band of each threshold keeps what the full tier keeps on >= 99 % of
    the units: at the lines users set, between fitted lines, and on unseen packages."""
    meta = json.loads((MODEL_DIR / "metadata.json").read_text())
    full_oof, fast_oof = (
        np.asarray(json.loads((d / "oof.json").read_text())["scores"])
        for d in (MODEL_DIR, MODEL_DIR / "fast")
    )
    bands = CascadeBands.from_metadata(meta)
    assert bands is not None
    for line in (2.0, 2.5, 2.75, 3.0, 3.25, 3.5, 4.0, 2.333, 3.1415):
        mixed, share = cascade.cascade_scores(fast_oof, full_oof, bands.band_for(line))
        assert cascade.disagreement(mixed, full_oof, line) <= 0.01, line
        assert share < 0.4, line  # ... and most units never reach the encoder
    record = meta["tiers"]["cascade"]
    assert record["between_lines"]["worst_disagreement"] <= 0.01
    assert [r["threshold"] for r in record["held_out"]] == [2.5, 3.0, 3.5]
    assert all(r["disagreement"] <= 0.01 for r in record["held_out"])
    # The record is what fitting the saved scores gives (the server reads it, not the scores).
    fitted = cascade.fit_band(fast_oof, full_oof, tolerance=CASCADE_TOLERANCE, line=3.5)
    assert bands.band_for(3.5) == pytest.approx(fitted, abs=1e-9)


@needs_fast
def test_tiers_share_signals_and_the_cascade_routes_by_band(scorer: Scorer) -> None:
    snippets = corpus_snippets(40)
    assert scorer.tiers == ("full", "fast", "cascade") and scorer.default_tier == "full"
    full = scorer.score_batch([Snippet(id=s.id, code=s.code, tier="full") for s in snippets])
    fast = scorer.score_batch([Snippet(id=s.id, code=s.code, tier="fast") for s in snippets])
    casc = scorer.score_batch([Snippet(id=s.id, code=s.code, tier="cascade") for s in snippets])
    assert {r.tier for r in full} == {"full"} and {r.tier for r in fast} == {"fast"}
    assert [r.signals for r in fast] == [r.signals for r in full]
    lo, hi = scorer.cascade_band
    for f, q, c in zip(full, fast, casc, strict=True):
        escalate = lo <= q.score < hi
        assert c.tier == ("full" if escalate else "fast")
        assert c.score == (f.score if escalate else q.score)
        assert c.n_tokens == (f.n_tokens if escalate else q.n_tokens)
    # The band is the threshold's: per call, or per snippet (which wins).
    for line in (2.5, 3.5):
        lo, hi = scorer.band_for(line)  # type: ignore[misc]
        want = ["full" if lo <= q.score < hi else "fast" for q in fast]
        per_call = [Snippet(id=s.id, code=s.code, tier="cascade") for s in snippets]
        per_snippet = [Snippet(code=s.code, tier="cascade", threshold=line) for s in snippets]
        assert [r.tier for r in scorer.score_batch(per_call, line)] == want
        answers = scorer.score_batch(per_snippet, 3.0)
        assert [r.tier for r in answers] == want
        assert all(r.threshold == line and r.keep == (r.score >= line) for r in answers)
    # The two tiers are different models that mostly agree on what to keep.
    agree = np.mean([f.keep == q.keep for f, q in zip(full, fast, strict=True)])
    assert agree >= 0.7 and any(f.score != q.score for f, q in zip(full, fast, strict=True))
    # One mixed call answers each snippet with its own tier, in order.
    mixed = scorer.score_batch(
        [Snippet(code=TEXTBOOK, tier="fast"), Snippet(code=TEXTBOOK), Snippet(code=SETTINGS)]
    )
    assert [r.tier for r in mixed] == ["fast", "full", "full"]
    assert mixed[0].score == scorer.score_batch([Snippet(code=TEXTBOOK, tier="fast")])[0].score


@needs_fast
def test_fast_only_scorer_loads_no_encoder() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from eduscore.scoring.scorer import Scorer, Snippet\n"
        f"s = Scorer.load({str(MODEL_DIR)!r}, tier='fast')\n"
        "r = s.score_batch([Snippet(code='def f():\\n    return 1\\n')])[0]\n"
        "print(s.tiers, r.tier, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["('fast',)", "fast", "False", "False"]


@needs_fast
def test_fast_tier_records_its_cv_beside_the_full_tier() -> None:
    meta = json.loads((MODEL_DIR / "metadata.json").read_text())
    tiers = meta["tiers"]
    fast_meta = json.loads((MODEL_DIR / "fast" / "metadata.json").read_text())
    assert fast_meta["training_data"]["sha256"] == meta["training_data"]["sha256"]
    assert fast_meta["encoder"]["kind"] == "static" and fast_meta["encoder"]["path"] == "static"
    assert tiers["fast"]["cv"]["f1_keep"] == round(fast_meta["cv"]["f1_keep"], 4)
    # The shipped band, applied to the shipped out-of-fold scores, decides as the full tier on
    # all but its tolerance of the units.
    from eduscore.training.fast import CASCADE_TOLERANCE

    full_oof, fast_oof = (
        np.asarray(json.loads((d / "oof.json").read_text())["scores"])
        for d in (MODEL_DIR, MODEL_DIR / "fast")
    )
    mixed, share = cascade.cascade_scores(fast_oof, full_oof, tuple(tiers["cascade"]["band"]))
    assert cascade.disagreement(mixed, full_oof) <= CASCADE_TOLERANCE
    assert share == pytest.approx(tiers["cascade"]["escalated_share"], abs=1e-4)
    assert 0.0 < tiers["cascade"]["escalated_share"] < 1.0


def test_unknown_or_missing_tier_is_refused(scorer: Scorer) -> None:
    with pytest.raises(TierUnavailable, match="not served here"):
        full_only = Scorer(scorer.full, None, head=scorer.head, lexical=scorer.lexical)
        full_only.score_batch([Snippet(code="x = 1", tier="fast")])
    with pytest.raises(TierUnavailable, match="'turbo'"):
        scorer.score_batch([Snippet(code="x = 1", tier="turbo")])


@needs_fast
def test_the_fast_tier_runs_exactly_the_trained_estimator(scorer: Scorer) -> None:
    """The compiled head (numpy, no scikit-learn) predicts what the skops estimator predicts,
    and the static table pools what model2vec itself would."""
    import skops.io as sio
    from model2vec import StaticModel

    from eduscore.scoring.scorer import design_matrix

    codes = [s.code for s in corpus_snippets(200, step=31)]
    tier = scorer.tier_model("fast")
    encoded = tier.embedder.encode(codes)
    reference = StaticModel.from_pretrained(str(MODEL_DIR / "fast" / "static"))
    assert np.allclose(encoded.vectors, reference.encode(codes, max_length=2048), atol=1e-5)
    signals = scorer.signals([Snippet(code=c) for c in codes])
    x = design_matrix(encoded.vectors, signals, tier.head.feature_names)
    path = MODEL_DIR / "fast" / "head.skops"
    estimator = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert np.array_equal(tier.head.estimator.predict(x), estimator.predict(x))
