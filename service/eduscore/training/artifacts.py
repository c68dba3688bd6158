"""Writing a model directory: built aside, swapped in only when complete.

A trained model is `head.json` + `head.npz` (the head compiled to plain arrays: what serving
runs), `head.skops` (the fitted scikit-learn estimator, via skops: never pickle; for training
tools), `calibration.json`, `metadata.json`, the card and plots, and `encoder/` when the encoder
was tuned. Training writes all of it into a staging directory beside the target and exchanges the
two only at the end, so a failed or interrupted run leaves the previous model loadable.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eduscore.scoring.model import CALIBRATION_FILE, FORMAT_VERSION, HEAD_FILE, METADATA_FILE
from eduscore.training import compile as compile_head
from eduscore.training.heads import EduScoreHead

_RENAME_EXCHANGE = 2  # linux/fs.h


def save_head(directory: str | Path, head: EduScoreHead, metadata: dict[str, Any]) -> Path:
    """Write a fitted head's estimator (skops, and compiled for serving), calibration and
    metadata into `directory`."""
    import skops.io as sio

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    # Deflated: the trees' arrays compress ~8x, and every retrain commits this file again.
    sio.dump(head.estimator_, out / HEAD_FILE, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    compile_head.export(head.estimator_, out)  # what serving runs (scoring/trees.py)
    (out / CALIBRATION_FILE).write_text(json.dumps(head.calibration_.to_dict()) + "\n")
    meta = {"format_version": FORMAT_VERSION, **metadata}
    (out / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


OOF_FILE = "oof.json"


def save_oof(directory: str | Path, ids: list[str], scores: Any) -> Path:
    """The grouped-CV out-of-fold score of every training unit, by id: what error analysis,
    threshold choices and a cascade's band are fitted on, without re-running the CV."""
    path = Path(directory) / OOF_FILE
    doc = {"ids": list(ids), "scores": [round(float(v), 4) for v in scores]}
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2); False where the kernel cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0


def swap_in(staging: Path, target: Path) -> None:
    """Make `staging` the model at `target`; the old model is removed only after the swap."""
    if not target.exists():
        staging.rename(target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the previous model
        return
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    target.rename(old)  # two renames: a crash between them leaves `old` to restore by hand
    staging.rename(target)
    shutil.rmtree(old)


@contextlib.contextmanager
def staged(target: str | Path) -> Iterator[Path]:
    """A fresh directory beside `target` to write a model into; swapped in on success,
    deleted on any failure or interrupt (the model at `target` is never touched then)."""
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a model is read by the serving user too
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, target)
