"""The cascade's bands: fast-tier scores in [lo, hi) go to the full model, the rest keep the fast
score. Fitted on out-of-fold scores of both tiers, so a band is never tuned on rows a head saw.

The cascade promises the full tier's judgement for less, so a band is fitted to reproduce the
full tier's keep decisions, not to match its F1 against the labels: when the fast tier is as
accurate as the full one (EXPERIMENTS.md, session 10) an F1 target is met by escalating
nothing, yet the two still disagree on some snippets, and those are what the cascade is for.
Callers draw the keep line where they like (README: 2.5-3.5), and the tiers disagree near
whichever line is drawn, so a band is fitted for each of a range of lines (`fit_bands`); the
server applies the band of the request's threshold (scoring/bands.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.scoring.bands import Band, CascadeBands
from eduscore.training.evaluation import KEEP_AT

Scores = npt.NDArray[np.float64]
#: Candidate reaches of a band under and over its keep line (0-5 scale).
_STEPS = np.round(np.arange(0.0, 2.01, 0.05), 2)
#: The keep lines a band is fitted for: every hundredth of the scale. Scores bunch at a few
#: values (calibration), so the tiers' disagreement jumps between nearby lines; on the shipped
#: out-of-fold scores a grid of 0.05 left 1.3 % of decisions differing at some line between
#: grid points, 0.01 left 0.53 % at worst (`check_between`, the model of 2026-12-05).
LINES = tuple(float(x) for x in np.round(np.arange(0.0, 5.001, 0.01), 2))
#: The thresholds between fitted lines at which the lookup rule is checked.
_CHECK_STEP = 0.005
#: Keep lines whose band is also checked on code it was not fitted on (`held_out`).
_HELD_OUT_LINES = (2.5, 3.0, 3.5)


def escalated(fast: Scores, band: Band) -> npt.NDArray[np.bool_]:
    """Which rows the cascade sends to the full model."""
    lo, hi = band
    return (fast >= lo) & (fast < hi)


def cascade_scores(fast: Scores, full: Scores, band: Band) -> tuple[Scores, float]:
    """The cascade's scores (full where escalated, fast elsewhere) and the share escalated."""
    up = escalated(fast, band)
    return np.where(up, full, fast), float(up.mean()) if len(up) else 0.0


def disagreement(scores: Scores, full: Scores, line: float = KEEP_AT) -> float:
    """The share of rows whose keep decision (score >= line) differs from the full tier's."""
    return float(np.mean((scores >= line) != (full >= line))) if len(full) else 0.0


def fit_band(fast: Scores, full: Scores, *, tolerance: float = 0.0, line: float = KEEP_AT) -> Band:
    """The band escalating the fewest rows whose cascade decides as the full model does (at
    keep line `line`) on all but at most a `tolerance` share of rows; the widest band searched
    if none does. Ties go to the band reaching least far below the line, then above it."""
    fast, full = np.asarray(fast, dtype=np.float64), np.asarray(full, dtype=np.float64)
    n = len(fast)
    widest = (round(line - float(_STEPS[-1]), 2), round(line + float(_STEPS[-1]), 2))
    if n == 0:
        return widest
    # Escalating a row makes its decision the full tier's, so a band leaves exactly the
    # differing rows outside it: counted for every candidate band at once from prefix sums.
    order = np.argsort(fast, kind="stable")
    ranked = fast[order]
    differ = np.concatenate([[0], np.cumsum(((fast >= line) != (full >= line))[order])])
    lows = np.round(line - _STEPS, 2)
    highs = np.round(line + _STEPS, 2)
    lo_at = np.searchsorted(ranked, lows, side="left")  # rows with fast < lo
    hi_at = np.searchsorted(ranked, highs, side="left")  # rows with fast < hi
    inside = np.maximum(hi_at[None, :] - lo_at[:, None], 0)
    fixed = np.maximum(differ[hi_at][None, :] - differ[lo_at][:, None], 0)
    left = (differ[-1] - fixed) / n
    share = np.where(left <= tolerance + 1e-12, inside / n, np.inf)
    if not np.isfinite(share).any():
        return widest
    below, above = np.unravel_index(int(np.argmin(share)), share.shape)
    return (float(lows[below]), float(highs[above]))


def fit_bands(
    fast: Scores,
    full: Scores,
    *,
    tolerance: float,
    lines: tuple[float, ...] = LINES,
) -> list[dict[str, Any]]:
    """A band per keep line (`fit_band`), with the share it escalates and the share of keep
    decisions that still differ from the full tier's, both out of fold."""
    out = []
    for line in lines:
        band = fit_band(fast, full, tolerance=tolerance, line=line)
        mixed, share = cascade_scores(fast, full, band)
        out.append(
            {
                "threshold": line,
                "band": [band[0], band[1]],
                "escalated_share": round(share, 4),
                "disagreement": round(disagreement(mixed, full, line), 4),
            }
        )
    return out


def check_between(
    fast: Scores, full: Scores, bands: list[dict[str, Any]], step: float = _CHECK_STEP
) -> dict[str, float]:
    """The lookup rule (scoring/bands.py) applied at every `step` across the fitted range: the
    worst share of differing keep decisions, where it is, and the mean share escalated."""
    lookup = CascadeBands.fitted([(r["threshold"], tuple(r["band"])) for r in bands])
    lines = [r["threshold"] for r in bands]
    worst, at, shares = 0.0, lines[0], []
    for t in np.round(np.arange(lines[0], lines[-1] + step / 2, step), 4):
        mixed, share = cascade_scores(fast, full, lookup.band_for(float(t)))
        shares.append(share)
        differ = disagreement(mixed, full, float(t))
        if differ > worst:
            worst, at = differ, float(t)
    return {
        "step": step,
        "worst_disagreement": round(worst, 4),
        "worst_at": at,
        "mean_escalated_share": round(float(np.mean(shares)), 4),
    }


def held_out(
    fast: Scores,
    full: Scores,
    groups: list[str],
    *,
    tolerance: float,
    lines: tuple[float, ...] = _HELD_OUT_LINES,
    n_folds: int = 5,
) -> list[dict[str, float]]:
    """Each band fitted on the rows of four fifths of the groups (packages) and applied to the
    rest, pooled: how the bands decide on code they were not fitted on."""
    names = sorted(set(groups))
    order = np.random.default_rng(0).permutation(len(names))
    fold_of = {name: int(order[k]) % n_folds for k, name in enumerate(names)}
    folds = np.asarray([fold_of[g] for g in groups])
    out = []
    for line in lines:
        mixed, up = np.empty_like(full), np.zeros(len(full), dtype=bool)
        for k in range(n_folds):
            test = folds == k
            band = fit_band(fast[~test], full[~test], tolerance=tolerance, line=line)
            mixed[test], _ = cascade_scores(fast[test], full[test], band)
            up[test] = escalated(fast[test], band)
        out.append(
            {
                "threshold": line,
                "disagreement": round(disagreement(mixed, full, line), 4),
                "escalated_share": round(float(up.mean()), 4),
            }
        )
    return out


def bands_record(
    fast: Scores, full: Scores, *, tolerance: float, groups: list[str] | None = None
) -> dict[str, Any]:
    """What metadata.json's `tiers.cascade` records of the bands: one per keep line, as columns
    (`threshold`, `lo`, `hi`, `escalated_share`, `disagreement`), the lookup rule checked between
    lines, and, given each row's group, the bands checked on groups they were not fitted on."""
    fast, full = np.asarray(fast, dtype=np.float64), np.asarray(full, dtype=np.float64)
    rows = fit_bands(fast, full, tolerance=tolerance)
    record: dict[str, Any] = {
        "bands": {
            "threshold": [r["threshold"] for r in rows],
            "lo": [r["band"][0] for r in rows],
            "hi": [r["band"][1] for r in rows],
            "escalated_share": [r["escalated_share"] for r in rows],
            "disagreement": [r["disagreement"] for r in rows],
        },
        "between_lines": check_between(fast, full, rows),
    }
    if groups is not None:
        record["held_out"] = held_out(fast, full, groups, tolerance=tolerance)
    return record


#: Keep lines the model card's table shows.
_CARD_LINES = (2.0, 2.5, 2.75, 3.0, 3.25, 3.5, 4.0)


def card_lines(record: dict[str, Any]) -> list[str]:
    """The model card's account of the cascade (metadata.json `tiers.cascade`): the band at the
    default line, how the band follows the threshold, and the bands at the common lines."""
    lo, hi = record.get("band", ["", ""])
    text = [
        "`cascade` scores with `fast` and sends the fast scores in a band around the keep line on",
        f"to `full`: [{lo}, {hi}) at the default 3.0. Each band is the narrowest whose out-of-fold",
        "keep decisions differ from the full tier's on at most"
        f" {record.get('tolerance', 0):.1%} of the units.",
    ]
    columns = record.get("bands")
    if not columns:  # a model with one band, applied at every threshold
        return text
    lines, check = columns["threshold"], record.get("between_lines", {})
    text += [
        "The band follows the request's threshold: one is fitted for every keep line from"
        f" {lines[0]:.2f} to {lines[-1]:.2f} in steps of {lines[1] - lines[0]:.2f}, and a",
        "threshold between two lines gets, on each side, the wider reach of its two neighbours"
        f" (checked every {check.get('step', 0)}: at most {check.get('worst_disagreement', 0):.2%}"
        f" of decisions differ, at {check.get('worst_at', '')}).",
    ]
    unseen = {r["threshold"]: r for r in record.get("held_out", [])}
    if unseen:
        text.append(
            "Refitted on four fifths of the packages and applied to the fifth, they differ from the"
            " full tier on the share of units in the last column."
        )
    head = "| keep line | band | to the encoder | decisions unlike `full` | on unseen packages |"
    text += ["", head, "|---|---|---|---|---|"]
    for line in _CARD_LINES:
        if line not in lines:
            continue
        i = lines.index(line)
        other = unseen.get(line, {}).get("disagreement")
        text.append(
            f"| {line:.2f} | [{columns['lo'][i]}, {columns['hi'][i]}) |"
            f" {columns['escalated_share'][i]:.1%} | {columns['disagreement'][i]:.2%} |"
            f" {'' if other is None else f'{other:.2%}'} |"
        )
    return text
