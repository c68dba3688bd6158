"""The classifier head, loaded from plain arrays (never pickle, never a scikit-learn object).

A model directory holds `head.json` + `head.npz` (the fitted head compiled to arrays: what
serving runs, scoring/trees.py), `calibration.json` (raw output -> 0-5 score, plain arrays)
and `metadata.json` (what it was trained on, with what, and how well it scored). Nothing in
them is code: arrays load with `allow_pickle=False`, and the JSON names no types to import, so
a tampered file can make loading fail but cannot run anything. (`head.skops`, the
scikit-learn estimator, stays beside them for training tools: training/compile.py.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from eduscore.errors import ModelLoadError
from eduscore.scoring.calibration import BoundaryCalibration
from eduscore.scoring.features import language_id

#: The scikit-learn estimator (skops), written by training and never read to serve.
HEAD_FILE = "head.skops"
CALIBRATION_FILE = "calibration.json"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1
#: Where a model directory keeps its own fine-tuned encoder, if it has one.
TUNED_ENCODER_DIR = "encoder"
LABEL_MIN, LABEL_MAX = 0.0, 5.0


@dataclass(frozen=True, slots=True)
class Head:
    """A fitted head on [signals, embedding] (scoring/trees.CompiledHead) and its metadata."""

    estimator: Any
    metadata: dict[str, Any]
    calibration: BoundaryCalibration | None = None

    @property
    def version(self) -> str:
        return str(self.metadata["model_version"])

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata["feature_names"])

    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores on the 0-5 label scale (calibrated when the model has a calibration)."""
        if not getattr(_pinned, "done", False):
            _single_thread_head()
            _pinned.done = True
        raw = np.asarray(self.estimator.predict(x), dtype=np.float64)
        if self.calibration is not None:
            raw = self.calibration.apply(raw)
        return np.clip(raw, LABEL_MIN, LABEL_MAX).astype(np.float32)


#: Threads in which scikit-learn's OpenMP has been set to one thread (a per-thread setting).
_pinned = threading.local()


def _single_thread_head() -> None:
    """Run scikit-learn's OpenMP single-threaded in the calling thread (its setting is per thread).

    The head predicts at most a micro-batch of rows, where waking an OpenMP team costs more than
    it saves, and that team then spins against PyTorch's own on a small machine (the idle
    latency it costs: bench/README.md, session 2). PyTorch's runtime is left alone, and nothing
    is pinned if both share one OpenMP library.
    """
    import sys

    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # `eduscore[fast]`: no scikit-learn, so no OpenMP team of its to pin
        return
    torch = sys.modules.get("torch")
    openmp = ThreadpoolController().select(user_api="openmp").lib_controllers
    if torch is None:  # a fast-only process: micro-batches are small here too
        for lib in openmp:
            lib.set_num_threads(1)
        return
    torch_dir = str(Path(torch.__file__).parent)
    if any(torch_dir in lib.filepath for lib in openmp):
        for lib in openmp:
            if torch_dir not in lib.filepath:
                lib.set_num_threads(1)


def bundled_encoder(directory: str | Path, metadata: dict[str, Any]) -> str:
    """The encoder directory shipped inside a model directory, or "" for the embedded default."""
    rel = metadata["encoder"].get("path", "")
    if not rel:
        return ""
    path = (Path(directory) / rel).resolve()
    if Path(directory).resolve() not in path.parents:
        raise ModelLoadError(f"{directory}: encoder path {rel!r} points outside the model")
    if not path.is_dir():
        raise ModelLoadError(f"{path}: the model's fine-tuned encoder is missing")
    return str(path)


def read_metadata(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / METADATA_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: missing; is --model-dir a model directory?") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: unreadable metadata: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(f"{path}: format_version is not {FORMAT_VERSION}")
    for key in ("model_version", "feature_names", "encoder"):
        if key not in meta:
            raise ModelLoadError(f"{path}: metadata lacks {key!r}")
    return meta


def load(directory: str | Path) -> Head:
    """A model directory's head from its compiled arrays (scoring/trees.py) and metadata.

    No scikit-learn import (start-up time and memory); ModelLoadError names what is wrong.
    """
    from eduscore.scoring.trees import load_compiled

    meta = read_metadata(directory)
    return Head(load_compiled(directory), metadata=meta, calibration=_calibration(directory))


def _calibration(directory: str | Path) -> BoundaryCalibration | None:
    path = Path(directory) / CALIBRATION_FILE
    if not path.exists():
        return None
    try:
        return BoundaryCalibration.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path}: unreadable calibration: {exc}") from None


def check_compatible(
    head: Head,
    *,
    encoder_name: str,
    encoder_dim: int,
    encoder_sha256: str,
    feature_names: Sequence[str],
) -> None:
    """Raise ModelLoadError unless the head was trained on this encoder and feature set."""
    enc = head.metadata["encoder"]
    where = "metadata.json"
    if int(enc.get("dim", -1)) != encoder_dim:
        raise ModelLoadError(
            f"{where}: classifier expects {enc.get('dim')}-d embeddings from {enc.get('name')!r},"
            f" but the encoder {encoder_name!r} gives {encoder_dim}-d"
        )
    if enc.get("sha256") and enc["sha256"] != encoder_sha256:
        raise ModelLoadError(
            f"{where}: classifier was trained on encoder {enc.get('name')!r}"
            f" (weights sha256 {enc['sha256'][:12]}…), not on {encoder_name!r}"
            f" ({encoder_sha256[:12]}…); pass the matching --encoder or retrain"
        )
    detector = head.metadata.get("language_detector", {}).get("sha256")
    if detector and detector != language_id.shipped_sha256():
        raise ModelLoadError(
            f"{where}: classifier was trained with another language detector (sha256"
            f" {detector[:12]}…) than this eduscore ships; retrain with `eduscore train`"
        )
    if list(feature_names) != head.feature_names:
        raise ModelLoadError(
            f"{where}: classifier was trained on features {head.feature_names},"
            f" this eduscore computes {list(feature_names)}; retrain with `eduscore train`"
        )
