"""What every filter engine agrees on about rows: formats, edu columns, validity, what a row
gets (Judgement), usage errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

EDU_COLUMNS = ("edu_score", "edu_keep", "edu_label")
#: With --units / units=True: the units of a row split into units (a list of UNIT_FIELDS objects).
EDU_UNITS = "edu_units"
UNIT_FIELDS = ("kind", "name", "start_line", "end_line", "language", "score", "keep")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
#: Server-side default; the in-process path applies the same edge rule so both agree.
DEFAULT_MAX_SNIPPET_BYTES = 1_000_000


class Judgement(NamedTuple):
    """What one row gets: `score`/`label` are None for rows that cannot be scored (invalid).
    A tuple, so a pool worker sends back little more than three numbers per row; `units` only
    when asked for (None: not asked, or invalid)."""

    score: float | None
    keep: bool
    label: int | None
    units: list[dict[str, Any]] | None = None


INVALID = Judgement(None, False, None)


def unit_rows(units: Iterable[Any]) -> list[dict[str, Any]]:
    """Units (a scorer's or a client's UnitResult) as plain objects, in file order: what a row's
    `edu_units` holds. Empty for an input of one unit."""
    return [{name: getattr(u, name) for name in UNIT_FIELDS} for u in units]


class UsageError(Exception):
    """The command cannot work as given (exit 2); rerunning it unchanged will not help."""


def invalid_reason(code: object, max_bytes: int = DEFAULT_MAX_SNIPPET_BYTES) -> str | None:
    """Why the server would refuse `code`, checked first so one bad row never fails a batch."""
    if code is None:
        return "null"
    if not isinstance(code, str):
        return f"not a string ({type(code).__name__})"
    if not code.strip():
        return "empty"
    if "\x00" in code:
        return "NUL bytes"
    if len(code.encode("utf-8", "surrogatepass")) > max_bytes:
        return f"over {max_bytes} bytes"
    return None


def language_hint(value: object) -> str:
    """The hint as the server normalises it (unknown: detect), so in-process scores match it."""
    from eduscore.scoring.scorer import normalize_language

    return normalize_language(value)


def format_of(path: str) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown format; use one of {sorted(FORMATS)}")
    return fmt
