"""What a failed signal extraction leaves behind: a counter and a rate-limited log line.

`features.extract` never raises (a snippet is still scored, with all-zero signals), so without
this a bug there would only show as drifting scores.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback

from eduscore import metrics

log = logging.getLogger("eduscore.scoring.features")

#: One log line per cause at most this often; the counter counts every snippet.
LOG_EVERY_S = 60.0
#: Causes remembered; beyond it the oldest are forgotten (a new cause is logged again).
_MAX_CAUSES = 256
_LABEL_RE = re.compile(r"[a-z]{1,16}")
_lock = threading.Lock()
_last_logged: dict[tuple[str, str], tuple[float, int]] = {}


def _cause(exc: BaseException) -> tuple[str, str]:
    """The exception type and the line that raised it: repeats of one bug share a cause."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return type(exc).__name__, where


def _label(language: object) -> str:
    """The hint as a bounded label: '' is "auto" (detected), anything odd is "other"."""
    if not language:
        return "auto"
    return language if isinstance(language, str) and _LABEL_RE.fullmatch(language) else "other"


def record(exc: BaseException, language: object) -> None:
    """Count a failed extraction under its language hint; log its cause once a minute at most."""
    label = _label(language)
    metrics.signal_errors.labels(label).inc()
    cause, now = _cause(exc), time.monotonic()
    with _lock:
        last, suppressed = _last_logged.get(cause, (-LOG_EVERY_S, 0))
        if now - last < LOG_EVERY_S:
            _last_logged[cause] = (last, suppressed + 1)
            return
        _last_logged.pop(cause, None)
        _last_logged[cause] = (now, 0)
        while len(_last_logged) > _MAX_CAUSES:
            del _last_logged[next(iter(_last_logged))]
    # The snippet itself is not logged: it is the caller's data.
    log.warning(
        "signal extraction failed (%s at %s, language hint %r; %d more since last logged):"
        " scored with all-zero signals",
        *cause,
        label,
        suppressed,
        exc_info=exc,
    )
