"""Calibration of the head's raw output onto the 0-5 scale, with the keep line pinned at 3.0.

A regression head shrinks toward the mean, so few units cross 3 (raw >= 3 kept 40 % of the
positives in grouped CV). The cut `c` that best separates label >= 3 is found on out-of-fold
predictions of the training data; two bounded isotonic curves then map raw < c into [0, 3) and
raw >= c into [3, 5], so `score >= 3.0` is exactly `raw >= c` and the score still tracks the label
(MAE stays low). Stored as plain JSON arrays: applying it needs only NumPy.

The labels are mostly whole numbers, so the two curves alone jump from about 2.2 to 3.0 at the
cut: a request's `threshold` of 2.5 or 2.75 then keeps exactly what 3.0 keeps, and 3.25 drops
half of it. A borderline range fixes that knob: raw outputs between `borderline_lo` and
`borderline_hi`
(where, on the training data, the share of keep-worthy units rises from about 1/4 to 3/4) map
linearly onto [2.5, 3.5], through 3.0 at the cut. Thresholds inside that range then trade recall
for precision gradually; outside it the curves are unchanged, and the keep decision at 3.0 is
exactly what it was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

KEEP_AT = 3.0
_BELOW_MAX = 2.995  # highest score a raw output below the cut can get
BORDERLINE = (2.5, 3.5)  # scores at the borderline range's edges


@dataclass(frozen=True, slots=True)
class BoundaryCalibration:
    """Monotone map raw -> score with raw >= c  <=>  score >= 3.0."""

    c: float
    eps: float
    lo_x: list[float]
    lo_y: list[float]
    hi_x: list[float]
    hi_y: list[float]
    #: Raw edges of the borderline range (borderline_lo < c < borderline_hi); None = none
    #: (files from before it).
    borderline_lo: float | None = None
    borderline_hi: float | None = None

    def apply(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        r = np.asarray(raw, dtype=np.float64)
        # A tiny slope breaks the ties of the isotonic steps without moving the boundary.
        d = self.eps * np.tanh(r - self.c)
        lo = np.minimum(np.interp(r, self.lo_x, self.lo_y) + d, _BELOW_MAX)
        hi = np.maximum(np.interp(r, self.hi_x, self.hi_y) + d, KEEP_AT)
        a, b = self.borderline_lo, self.borderline_hi
        if a is not None and b is not None:
            # Inside the range the line; below it at most its floor, above it at least its top.
            line = np.interp(r, [a, self.c, b], [BORDERLINE[0], KEEP_AT, BORDERLINE[1]])
            lo = np.where(r < a, np.minimum(lo, BORDERLINE[0]), np.minimum(line, _BELOW_MAX))
            hi = np.where(r > b, np.maximum(hi, BORDERLINE[1]), line)
        return np.clip(np.where(r < self.c, lo, hi), 0.0, 5.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoundaryCalibration:
        edges = ("borderline_lo", "borderline_hi")
        borderline = {k: float(data[k]) for k in edges if data.get(k) is not None}
        cal = cls(
            c=float(data["c"]),
            eps=float(data["eps"]),
            **{k: [float(v) for v in data[k]] for k in ("lo_x", "lo_y", "hi_x", "hi_y")},
            **borderline,
        )
        for x, y in ((cal.lo_x, cal.lo_y), (cal.hi_x, cal.hi_y)):
            if len(x) != len(y) or not x or np.any(np.diff(x) < 0):
                raise ValueError("calibration curves must be non-empty, paired and sorted")
        lo, hi = cal.borderline_lo, cal.borderline_hi
        if borderline and (lo is None or hi is None or not lo < cal.c < hi):
            raise ValueError("calibration: borderline_lo < c < borderline_hi, or neither")
        return cal
