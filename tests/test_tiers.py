"""The tiers in-process: fast and full on the same snippets, the cascade's routing, the band."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eduscore.errors import TierUnavailable
from eduscore.scoring.scorer import Scorer, Snippet
from eduscore.training import cascade

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
