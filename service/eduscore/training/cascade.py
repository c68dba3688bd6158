"""The cascade's band: fast-tier scores in [lo, hi) go to the full model, the rest keep the fast
score. Fitted on out-of-fold scores of both tiers, so the band is never tuned on rows a head saw.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from eduscore.training.evaluation import KEEP_AT, binary_scores

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


def _f1(labels: Scores, scores: Scores) -> float:
    return float(binary_scores(labels >= KEEP_AT, scores >= KEEP_AT)["f1_keep"])


def fit_band(
    fast: Scores, full: Scores, labels: Scores, *, tolerance: float = 0.0
) -> tuple[float, float]:
    """The band escalating the fewest rows whose cascade F1 is within `tolerance` of the full
    model's; the widest band searched if none is (it then escalates nearly everything)."""
    target = _f1(labels, full) - tolerance
    best: tuple[float, float, float] | None = None  # (share, lo, hi)
    widest = (KEEP_AT - float(_STEPS[-1]), KEEP_AT + float(_STEPS[-1]))
    for below in _STEPS:
        for above in _STEPS:
            band = (round(KEEP_AT - below, 2), round(KEEP_AT + above, 2))
            mixed, share = cascade_scores(fast, full, band)
            if _f1(labels, mixed) >= target - 1e-12 and (best is None or share < best[0]):
                best = (share, *band)
    return widest if best is None else (best[1], best[2])
