"""Calibration of the head's raw output onto the 0-5 scale, with the keep line pinned at 3.0.

A regression head shrinks toward the mean, so few units cross 3 (raw >= 3 kept 40 % of the
positives in grouped CV). The cut `c` that best separates label >= 3 is found on out-of-fold
predictions of the training data; two bounded isotonic curves then map raw < c into [0, 3) and
raw >= c into [3, 5], so `score >= 3.0` is exactly `raw >= c` and the score still tracks the label
(MAE stays low). Stored as plain JSON arrays: applying it needs only NumPy.

The labels are mostly whole numbers, so the two curves alone jump from about 2.2 to 3.0 at the
cut: a request's `threshold` of 2.5 or 2.75 then keeps exactly what 3.0 keeps, and 3.25 drops
half of it. A borderline band fixes that knob: raw outputs between `band_lo` and `band_hi`
(where, on the training data, the share of keep-worthy units rises from about 1/4 to 3/4) map
linearly onto [2.5, 3.5], through 3.0 at the cut. Thresholds inside the band then trade recall
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
BAND = (2.5, 3.5)  # scores of the borderline band's edges


@dataclass(frozen=True, slots=True)
class BoundaryCalibration:
    """Monotone map raw -> score with raw >= c  <=>  score >= 3.0."""

    c: float
    eps: float
    lo_x: list[float]
    lo_y: list[float]
    hi_x: list[float]
    hi_y: list[float]
    #: Raw edges of the borderline band (band_lo < c < band_hi); None = no band (older files).
    band_lo: float | None = None
    band_hi: float | None = None

    def apply(self, raw: npt.ArrayLike) -> npt.NDArray[np.float64]:
        r = np.asarray(raw, dtype=np.float64)
        # A tiny slope breaks the ties of the isotonic steps without moving the boundary.
        d = self.eps * np.tanh(r - self.c)
        lo = np.minimum(np.interp(r, self.lo_x, self.lo_y) + d, _BELOW_MAX)
        hi = np.maximum(np.interp(r, self.hi_x, self.hi_y) + d, KEEP_AT)
        if self.band_lo is not None and self.band_hi is not None:
            # Inside the band the line; below it at most its floor, above it at least its top.
            band = np.interp(r, [self.band_lo, self.c, self.band_hi], [BAND[0], KEEP_AT, BAND[1]])
            lo = np.where(r < self.band_lo, np.minimum(lo, BAND[0]), np.minimum(band, _BELOW_MAX))
            hi = np.where(r > self.band_hi, np.maximum(hi, BAND[1]), band)
        return np.clip(np.where(r < self.c, lo, hi), 0.0, 5.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoundaryCalibration:
        band = {k: float(data[k]) for k in ("band_lo", "band_hi") if data.get(k) is not None}
        cal = cls(
            c=float(data["c"]),
            eps=float(data["eps"]),
            **{k: [float(v) for v in data[k]] for k in ("lo_x", "lo_y", "hi_x", "hi_y")},
            **band,
        )
        for x, y in ((cal.lo_x, cal.lo_y), (cal.hi_x, cal.hi_y)):
            if len(x) != len(y) or not x or np.any(np.diff(x) < 0):
                raise ValueError("calibration curves must be non-empty, paired and sorted")
        if band and (len(band) != 2 or not band["band_lo"] < cal.c < band["band_hi"]):
            raise ValueError("calibration band needs band_lo < c < band_hi")
        return cal
