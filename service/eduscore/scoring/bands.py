"""The cascade's bands: which fast scores go on to the full tier, as a function of the keep line.

A band is fitted around each keep line of a fine grid (metadata.json `tiers.cascade.bands`,
training/cascade.py), because the fast and full tiers disagree near whatever line a caller
draws, not only near 3.0. Between two fitted lines a threshold gets, on each side, the wider of
its neighbours' reaches; outside the fitted range, the nearest line's reaches. Models trained
before the bands existed carry one band (`tiers.cascade.band`), used at every threshold.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Band = tuple[float, float]


@dataclass(frozen=True, slots=True)
class CascadeBands:
    """Bands fitted per keep line: `lines` ascending, `below`/`above` each band's reach under and
    over its line (band = [line - below, line + above))."""

    lines: tuple[float, ...]
    below: tuple[float, ...]
    above: tuple[float, ...]
    #: The one band of a model without per-line bands (used at every threshold), else None.
    fixed: Band | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> CascadeBands | None:
        """The bands a model's metadata records, or None when it has no cascade."""
        record = metadata.get("tiers", {}).get("cascade", {})
        columns = record.get("bands")
        if columns:  # {"threshold": [...], "lo": [...], "hi": [...], ...}
            rows = zip(columns["threshold"], columns["lo"], columns["hi"], strict=True)
            return cls.fitted([(float(t), (float(lo), float(hi))) for t, lo, hi in rows])
        band = record.get("band")
        return cls((), (), (), fixed=_band(band)) if band else None

    @classmethod
    def fitted(cls, rows: Sequence[tuple[float, Band]]) -> CascadeBands:
        """From (keep line, band) pairs in any order."""
        ordered = sorted(rows)
        return cls(
            lines=tuple(line for line, _ in ordered),
            below=tuple(max(0.0, line - lo) for line, (lo, _) in ordered),
            above=tuple(max(0.0, hi - line) for line, (_, hi) in ordered),
        )

    def band_for(self, threshold: float) -> Band:
        """The fast scores escalated when the keep line is `threshold`: [lo, hi)."""
        if self.fixed is not None:
            return self.fixed
        i = bisect.bisect_left(self.lines, threshold)
        if i < len(self.lines) and abs(self.lines[i] - threshold) < 1e-9:
            below, above = self.below[i], self.above[i]
        elif i == 0:
            below, above = self.below[0], self.above[0]
        elif i == len(self.lines):
            below, above = self.below[-1], self.above[-1]
        else:  # between two fitted lines: each side reaches as far as either neighbour's
            below = max(self.below[i - 1], self.below[i])
            above = max(self.above[i - 1], self.above[i])
        return (round(threshold - below, 4), round(threshold + above, 4))


def _band(value: Sequence[Any]) -> Band:
    return (float(value[0]), float(value[1]))
