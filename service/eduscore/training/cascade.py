"""The cascade's band: fast-tier scores in [lo, hi) go to the full model, the rest keep the fast
score. Fitted on out-of-fold scores of both tiers, so the band is never tuned on rows a head saw.

The cascade promises the full tier's judgement for less, so the band is fitted to reproduce the
full tier's keep decisions, not to match its F1 against the labels: when the fast tier is as
accurate as the full one (EXPERIMENTS.md, session 10) an F1 target is met by escalating
nothing, yet the two still disagree on some snippets, and those are what the cascade is for.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from eduscore.training.evaluation import KEEP_AT

Scores = npt.NDArray[np.float64]
#: Candidate half-widths of the band on each side of the keep line (0-5 scale).
_STEPS = np.round(np.arange(0.0, 2.01, 0.05), 2)


def escalated(fast: Scores, band: tuple[float, float]) -> npt.NDArray[np.bool_]:
    """Which rows the cascade sends to the full model."""
    lo, hi = band
    return (fast >= lo) & (fast < hi)


def cascade_scores(fast: Scores, full: Scores, band: tuple[float, float]) -> tuple[Scores, float]:
    """The cascade's scores (full where escalated, fast elsewhere) and the share escalated."""
    up = escalated(fast, band)
    return np.where(up, full, fast), float(up.mean()) if len(up) else 0.0


def disagreement(scores: Scores, full: Scores) -> float:
    """The share of rows whose keep decision (score >= 3) differs from the full tier's."""
    return float(np.mean((scores >= KEEP_AT) != (full >= KEEP_AT))) if len(full) else 0.0


def fit_band(fast: Scores, full: Scores, *, tolerance: float = 0.0) -> tuple[float, float]:
    """The band escalating the fewest rows whose cascade decides as the full model does on all
    but at most a `tolerance` share of rows; the widest band searched if none does."""
    best: tuple[float, float, float] | None = None  # (share, lo, hi)
    widest = (KEEP_AT - float(_STEPS[-1]), KEEP_AT + float(_STEPS[-1]))
    for below in _STEPS:
        for above in _STEPS:
            band = (round(KEEP_AT - below, 2), round(KEEP_AT + above, 2))
            mixed, share = cascade_scores(fast, full, band)
            if disagreement(mixed, full) <= tolerance + 1e-12 and (best is None or share < best[0]):
                best = (share, *band)
    return widest if best is None else (best[1], best[2])
