"""The resumable progress file: the `<output>.progress.json` sidecar of `eduscore filter`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eduscore.pipelines.rows import UsageError


@dataclass(slots=True, kw_only=True)
class Progress:
    """The sidecar: input consumed (`input_pos`: byte offset or row index), output that matches."""

    fingerprint: dict[str, Any]
    rows_done: int = 0
    input_pos: int = 0
    output_pos: int = 0
    kept: int = 0
    dropped: int = 0
    invalid: int = 0
    complete: bool = False

    @staticmethod
    def load(path: Path) -> Progress | None:
        if not path.exists():
            return None
        try:
            return Progress(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise UsageError(
                f"{path} is unreadable ({exc}); pass --restart to discard it"
            ) from None

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)  # atomic: a crash leaves the old or the new state, never half
